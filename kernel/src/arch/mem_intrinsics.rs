//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp`: the C symbols that
//! `core` calls. On this host target they normally come from libc, which a
//! kernel does not link.
//!
//! Bulk copies and fills move 32 bytes per loop iteration with plain 8-byte
//! moves and finish with `rep movsb`/`rep stosb`. Under QEMU's TCG (where
//! this kernel mostly runs) every iteration of a `rep` string instruction
//! is a separate trip through the emulator, so `rep movsb` over a 4 KiB
//! page costs several times more than the loop.

use core::arch::asm;

/// # Safety
/// Standard C semantics: `dst` and `src` valid for `n` bytes, no overlap.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges are valid; the loop moves
    // `n & !31` bytes forwards, `rep movsb` the rest; DF is clear in kernel
    // code (the trap entry clears it).
    unsafe {
        asm!(
            "test {blocks}, {blocks}",
            "jz 3f",
            "2:",
            "mov {t0}, qword ptr [rsi]",
            "mov {t1}, qword ptr [rsi + 8]",
            "mov qword ptr [rdi], {t0}",
            "mov qword ptr [rdi + 8], {t1}",
            "mov {t0}, qword ptr [rsi + 16]",
            "mov {t1}, qword ptr [rsi + 24]",
            "mov qword ptr [rdi + 16], {t0}",
            "mov qword ptr [rdi + 24], {t1}",
            "add rsi, 32",
            "add rdi, 32",
            "dec {blocks}",
            "jnz 2b",
            "3:",
            "rep movsb",
            blocks = inout(reg) n / 32 => _,
            t0 = out(reg) _,
            t1 = out(reg) _,
            inout("rcx") n % 32 => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack)
        )
    };
    dst
}

/// # Safety
/// Standard C semantics: both ranges valid for `n` bytes; may overlap.
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) || (dst as usize) >= (src as usize).wrapping_add(n) {
        // SAFETY: a forward copy is correct when dst does not start inside src.
        return unsafe { memcpy(dst, src, n) };
    }
    // SAFETY: copy backwards from the last byte; DF is restored right after.
    unsafe {
        asm!("std", "rep movsb", "cld",
             inout("rcx") n => _, inout("rdi") dst.add(n - 1) => _, inout("rsi") src.add(n - 1) => _,
             options(nostack))
    };
    dst
}

/// # Safety
/// Standard C semantics: `dst` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let word = u64::from(c as u8) * 0x0101_0101_0101_0101;
    // SAFETY: the caller guarantees the range is valid; as in `memcpy`.
    unsafe {
        asm!(
            "test {blocks}, {blocks}",
            "jz 3f",
            "2:",
            "mov qword ptr [rdi], rax",
            "mov qword ptr [rdi + 8], rax",
            "mov qword ptr [rdi + 16], rax",
            "mov qword ptr [rdi + 24], rax",
            "add rdi, 32",
            "dec {blocks}",
            "jnz 2b",
            "3:",
            "rep stosb",
            blocks = inout(reg) n / 32 => _,
            inout("rcx") n % 32 => _,
            inout("rdi") dst => _,
            in("rax") word,
            options(nostack)
        )
    };
    dst
}

/// # Safety
/// Standard C semantics: both ranges valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: i < n and both ranges are valid for n bytes.
        let (x, y) = unsafe { (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i))) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// # Safety
/// As `memcmp`.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}

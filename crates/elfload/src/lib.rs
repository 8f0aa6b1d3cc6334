//! Loading static ELF64 x86-64 executables, as Linux's `binfmt_elf` does.
//!
//! 1. [`parse`] checks the ELF header and program headers of an executable
//!    held in memory and extracts what loading needs ([`Elf`]). Dynamically
//!    linked programs (with `PT_INTERP`) are refused with [`Error::Dynamic`].
//! 2. [`plan`] places the `PT_LOAD` segments at a load bias (0 for `ET_EXEC`,
//!    chosen by the caller for `ET_DYN`/static-PIE) and gives the page-aligned
//!    regions to map, their protection and where their bytes come from
//!    ([`LoadPlan`]).
//! 3. [`page_contents`] computes the exact bytes and protection of any page of
//!    the image; the kernel fills frames page by page with it.
//! 4. [`build_stack`] lays out the initial process stack (argc, argv, envp,
//!    auxv, strings, `AT_RANDOM` bytes).
//!
//! # Segments that share a page
//!
//! Two consecutive `PT_LOAD` segments may end and begin in the same page (small
//! binaries, `ld -N`, hand-made layouts). The regions of a [`LoadPlan`] are per
//! segment, sorted by address, and a region may overlap the previous one by at
//! most that one boundary page. The shared page is not mapped from either
//! segment alone: [`page_contents`] builds it from both (each segment's file
//! bytes where they lie, zero elsewhere) and its protection is the union of the
//! two segments' protections. (Linux instead lets the later mapping replace the
//! page, which can lose the earlier segment's bytes or rights; the union keeps
//! both segments working.) [`LoadPlan::pages`] lists every page once.
//!
//! Every offset, size and address read from the file is checked: malformed
//! input gives an [`Error`], never a panic or an overflow.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

pub mod auxv;

/// The page size.
pub const PAGE_SIZE: u64 = 4096;
/// First address above the user half of the address space.
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// Lowest address a segment may be placed at (Linux's default `mmap_min_addr`).
pub const MIN_VADDR: u64 = 0x1_0000;
/// Largest size of the argument and environment strings plus their pointers
/// accepted by [`build_stack`] (more gives [`Error::TooBig`], i.e. `E2BIG`).
pub const MAX_ARG_BYTES: usize = 128 * 1024;

/// `e_type`: executable at fixed addresses.
pub const ET_EXEC: u16 = 2;
/// `e_type`: position-independent (static-PIE here).
pub const ET_DYN: u16 = 3;
/// `e_machine`: AMD x86-64.
pub const EM_X86_64: u16 = 62;
/// Segment type: loadable.
pub const PT_LOAD: u32 = 1;
/// Segment type: dynamic linking information.
pub const PT_DYNAMIC: u32 = 2;
/// Segment type: program interpreter (dynamic linker).
pub const PT_INTERP: u32 = 3;
/// Segment type: the program header table itself.
pub const PT_PHDR: u32 = 6;
/// Segment type: thread-local storage template.
pub const PT_TLS: u32 = 7;
/// Segment type: stack executability.
pub const PT_GNU_STACK: u32 = 0x6474_e551;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;
/// `mmap` protection: readable.
pub const PROT_READ: u32 = 1;
/// `mmap` protection: writable.
pub const PROT_WRITE: u32 = 2;
/// `mmap` protection: executable.
pub const PROT_EXEC: u32 = 4;

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
/// Largest program header table accepted (Linux: 64 KiB).
const MAX_PHDRS_BYTES: usize = 65536;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The file is shorter than its headers say.
    Truncated,
    /// Not an ELF file.
    BadMagic,
    /// Not ELFCLASS64.
    BadClass,
    /// Not little-endian.
    BadEndian,
    /// Not x86-64.
    BadMachine,
    /// Neither `ET_EXEC` nor `ET_DYN`.
    BadType,
    /// Malformed program header table (entry size, count, location), or the
    /// program headers are not inside the image.
    BadPhdr,
    /// Dynamically linked (has `PT_INTERP`): not supported.
    Dynamic,
    /// A segment's sizes or offsets are inconsistent (`filesz > memsz`, file
    /// range outside the file, overflow, `vaddr % 4096 != offset % 4096`).
    BadSegment,
    /// A segment lies outside `[MIN_VADDR, USER_END)` (after the load bias).
    AddressRange,
    /// `PT_LOAD` segments are not in ascending order or overlap.
    Overlap,
    /// No `PT_LOAD` segment.
    NoLoad,
    /// The entry point is not inside a `PT_LOAD` segment.
    BadEntry,
    /// Load bias not page-aligned, or non-zero for `ET_EXEC`.
    BadBias,
    /// [`page_contents`]: the address is not a page of the image.
    NotMapped,
    /// [`build_stack`]: the arguments and environment are too large (`E2BIG`).
    TooBig,
    /// [`build_stack`]: a string contains a NUL byte.
    BadArg,
    /// [`build_stack`]: `stack_top` is not 16-byte aligned or too low.
    BadStackTop,
}

impl Error {
    /// The errno `execve` returns for this error.
    pub fn errno(self) -> abi::Errno {
        match self {
            Error::TooBig => abi::Errno::E2BIG,
            Error::NotMapped | Error::BadStackTop => abi::Errno::EFAULT,
            Error::BadArg => abi::Errno::EINVAL,
            _ => abi::Errno::ENOEXEC,
        }
    }
}

impl From<Error> for abi::Errno {
    fn from(e: Error) -> Self {
        e.errno()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Error::Truncated => "truncated ELF file",
            Error::BadMagic => "not an ELF file",
            Error::BadClass => "not a 64-bit ELF file",
            Error::BadEndian => "not a little-endian ELF file",
            Error::BadMachine => "not an x86-64 ELF file",
            Error::BadType => "not an executable (ET_EXEC or ET_DYN)",
            Error::BadPhdr => "malformed program header table",
            Error::Dynamic => "dynamically linked executables (PT_INTERP) are not supported",
            Error::BadSegment => "malformed PT_LOAD segment",
            Error::AddressRange => "segment outside the user address range",
            Error::Overlap => "PT_LOAD segments unordered or overlapping",
            Error::NoLoad => "no PT_LOAD segment",
            Error::BadEntry => "entry point outside the loaded segments",
            Error::BadBias => "bad load bias",
            Error::NotMapped => "address not in the image",
            Error::TooBig => "argument list too long",
            Error::BadArg => "argument contains a NUL byte",
            Error::BadStackTop => "bad stack top",
        };
        f.write_str(s)
    }
}

impl core::error::Error for Error {}

/// `ET_EXEC` or `ET_DYN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Fixed addresses; load bias 0.
    Exec,
    /// Position independent (static-PIE); the caller picks the load bias.
    Dyn,
}

/// A `PT_LOAD` segment (file addresses, before the load bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Virtual address.
    pub vaddr: u64,
    /// Size in memory.
    pub memsz: u64,
    /// Size in the file (≤ `memsz`; the rest is zero-filled).
    pub filesz: u64,
    /// Offset in the file.
    pub offset: u64,
    /// `PF_R | PF_W | PF_X`.
    pub flags: u32,
    /// Alignment (informational).
    pub align: u64,
}

impl Segment {
    /// `mmap` protection for the flags (`PF_R→PROT_READ`, `PF_W→PROT_WRITE`,
    /// `PF_X→PROT_EXEC`).
    pub fn prot(&self) -> u32 {
        let mut p = 0;
        if self.flags & PF_R != 0 {
            p |= PROT_READ;
        }
        if self.flags & PF_W != 0 {
            p |= PROT_WRITE;
        }
        if self.flags & PF_X != 0 {
            p |= PROT_EXEC;
        }
        p
    }
}

/// The `PT_TLS` segment: the thread-local storage template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tls {
    /// Virtual address of the template (before the load bias).
    pub vaddr: u64,
    /// Size of the initialized part.
    pub filesz: u64,
    /// Total size.
    pub memsz: u64,
    /// Offset in the file.
    pub offset: u64,
    /// Alignment.
    pub align: u64,
}

/// A parsed static executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elf {
    /// `ET_EXEC` or `ET_DYN`.
    pub kind: Kind,
    /// Entry point (before the load bias).
    pub entry: u64,
    /// File offset of the program header table.
    pub phoff: u64,
    /// Size of a program header (56).
    pub phentsize: u16,
    /// Number of program headers.
    pub phnum: u16,
    /// The `PT_LOAD` segments with a non-zero `memsz`, in ascending order of
    /// address, not overlapping.
    pub segments: Vec<Segment>,
    /// The `PT_TLS` segment, if any.
    pub tls: Option<Tls>,
    /// Address of the program headers from `PT_PHDR` (before the load bias), if any.
    pub phdr: Option<u64>,
    /// Whether `PT_GNU_STACK` asks for an executable stack (`false` when absent,
    /// as on x86-64 Linux).
    pub stack_exec: bool,
}

/// A page-aligned range to map for one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First address (page-aligned).
    pub start: u64,
    /// End address (page-aligned, exclusive).
    pub end: u64,
    /// `PROT_READ | PROT_WRITE | PROT_EXEC`.
    pub prot: u32,
    /// File offset that corresponds to `start` (page-aligned); file byte
    /// `file_offset + (va - start)` is at `va`.
    pub file_offset: u64,
    /// First address whose byte comes from the file (the segment's address).
    pub file_start: u64,
    /// End of the bytes that come from the file (`file_start + filesz`).
    /// `[start, file_start)` and `[file_end, end)` are zero.
    pub file_end: u64,
}

/// Where everything goes for one load bias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    /// Load bias added to every file address.
    pub load_bias: u64,
    /// Entry point (biased).
    pub entry: u64,
    /// Address of the program headers in memory (`AT_PHDR`): from `PT_PHDR`
    /// if present, else from the `PT_LOAD` whose file bytes hold them; 0 if
    /// neither (as Linux gives then).
    pub phdr_vaddr: u64,
    /// One region per segment, in ascending order (`start` non-decreasing,
    /// file ranges `[file_start, file_end)` disjoint and ascending); a region
    /// overlaps the previous one by at most one page (see the crate
    /// documentation). Use [`LoadPlan::pages`] to visit each page once.
    pub regions: Vec<Region>,
    /// Initial program break: the page-aligned end of the highest segment.
    pub brk_start: u64,
}

impl LoadPlan {
    /// Lowest address of the image.
    pub fn image_start(&self) -> u64 {
        self.regions.first().map_or(0, |r| r.start)
    }
    /// End of the image (page-aligned).
    pub fn image_end(&self) -> u64 {
        self.regions.iter().map(|r| r.end).max().unwrap_or(0)
    }
    /// Every page of the image, once each, in ascending order.
    pub fn pages(&self) -> impl Iterator<Item = u64> + '_ {
        let mut done_to = 0u64;
        self.regions.iter().flat_map(move |r| {
            let from = r.start.max(done_to);
            done_to = done_to.max(r.end);
            (from..r.end).step_by(PAGE_SIZE as usize)
        })
    }
    /// Number of pages of the image.
    pub fn page_count(&self) -> u64 {
        self.pages().count() as u64
    }
    /// Protection of the page at `page_va` (union over the regions covering
    /// it), or `None` if it is not in the image.
    pub fn prot_of(&self, page_va: u64) -> Option<u32> {
        let page = page_va & !(PAGE_SIZE - 1);
        let mut prot = None;
        for r in &self.regions {
            if r.start <= page && page < r.end {
                prot = Some(prot.unwrap_or(0) | r.prot);
            }
        }
        prot
    }
}

fn u16_at(b: &[u8], off: usize) -> Result<u16, Error> {
    let s = b
        .get(off..off.checked_add(2).ok_or(Error::Truncated)?)
        .ok_or(Error::Truncated)?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, Error> {
    let s = b
        .get(off..off.checked_add(4).ok_or(Error::Truncated)?)
        .ok_or(Error::Truncated)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64, Error> {
    let s = b
        .get(off..off.checked_add(8).ok_or(Error::Truncated)?)
        .ok_or(Error::Truncated)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_le_bytes(a))
}

const fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

fn page_up(x: u64) -> Option<u64> {
    Some(x.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

/// Checks a static ELF64 x86-64 executable and extracts its loading information.
pub fn parse(bytes: &[u8]) -> Result<Elf, Error> {
    let len = bytes.len() as u64;
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Err(if bytes.len() < 4 && b"\x7fELF".starts_with(bytes) {
            Error::Truncated
        } else {
            Error::BadMagic
        });
    }
    if bytes.len() < EHDR_SIZE {
        return Err(Error::Truncated);
    }
    if bytes[4] != 2 {
        return Err(Error::BadClass);
    }
    if bytes[5] != 1 {
        return Err(Error::BadEndian);
    }
    let e_type = u16_at(bytes, 16)?;
    let kind = match e_type {
        ET_EXEC => Kind::Exec,
        ET_DYN => Kind::Dyn,
        _ => return Err(Error::BadType),
    };
    if u16_at(bytes, 18)? != EM_X86_64 {
        return Err(Error::BadMachine);
    }
    let entry = u64_at(bytes, 24)?;
    let phoff = u64_at(bytes, 32)?;
    let phentsize = u16_at(bytes, 54)?;
    let phnum = u16_at(bytes, 56)?;
    if usize::from(phentsize) != PHDR_SIZE || phnum == 0 || phnum == 0xffff {
        return Err(Error::BadPhdr);
    }
    let table_len = usize::from(phnum) * PHDR_SIZE;
    if table_len > MAX_PHDRS_BYTES {
        return Err(Error::BadPhdr);
    }
    let table_end = phoff.checked_add(table_len as u64).ok_or(Error::BadPhdr)?;
    if table_end > len {
        return Err(Error::Truncated);
    }
    // In bounds: table_end ≤ len ≤ usize::MAX.
    let table = &bytes[phoff as usize..table_end as usize];

    let mut segments: Vec<Segment> = Vec::new();
    let mut tls = None;
    let mut phdr = None;
    let mut stack_exec = false;
    for ph in table.chunks_exact(PHDR_SIZE) {
        let p_type = u32_at(ph, 0)?;
        let flags = u32_at(ph, 4)?;
        let offset = u64_at(ph, 8)?;
        let vaddr = u64_at(ph, 16)?;
        let filesz = u64_at(ph, 32)?;
        let memsz = u64_at(ph, 40)?;
        let align = u64_at(ph, 48)?;
        match p_type {
            PT_INTERP => return Err(Error::Dynamic),
            PT_LOAD => {
                let file_end = offset.checked_add(filesz).ok_or(Error::BadSegment)?;
                if filesz > memsz || file_end > len || vaddr % PAGE_SIZE != offset % PAGE_SIZE {
                    return Err(Error::BadSegment);
                }
                let end = vaddr.checked_add(memsz).ok_or(Error::AddressRange)?;
                if end > USER_END {
                    return Err(Error::AddressRange);
                }
                if memsz == 0 {
                    continue;
                }
                if let Some(prev) = segments.last() {
                    if vaddr < prev.vaddr + prev.memsz {
                        return Err(Error::Overlap);
                    }
                }
                segments.push(Segment {
                    vaddr,
                    memsz,
                    filesz,
                    offset,
                    flags,
                    align,
                });
            }
            PT_TLS => {
                let file_end = offset.checked_add(filesz).ok_or(Error::BadSegment)?;
                if filesz > memsz || file_end > len || vaddr.checked_add(memsz).is_none() {
                    return Err(Error::BadSegment);
                }
                tls = Some(Tls {
                    vaddr,
                    filesz,
                    memsz,
                    offset,
                    align,
                });
            }
            PT_PHDR => phdr = Some(vaddr),
            PT_GNU_STACK => stack_exec = flags & PF_X != 0,
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(Error::NoLoad);
    }
    if !segments
        .iter()
        .any(|s| s.vaddr <= entry && entry < s.vaddr + s.memsz)
    {
        return Err(Error::BadEntry);
    }
    Ok(Elf {
        kind,
        entry,
        phoff,
        phentsize,
        phnum,
        segments,
        tls,
        phdr,
        stack_exec,
    })
}

/// Places the image at `load_bias` (0 for `ET_EXEC`; a page-aligned address
/// of the caller's choice for `ET_DYN`, e.g. `0x5555_5555_4000`).
pub fn plan(elf: &Elf, load_bias: u64) -> Result<LoadPlan, Error> {
    if !load_bias.is_multiple_of(PAGE_SIZE) || (elf.kind == Kind::Exec && load_bias != 0) {
        return Err(Error::BadBias);
    }
    let mut regions = Vec::with_capacity(elf.segments.len());
    let mut prev_end = 0u64;
    for s in &elf.segments {
        let va = s.vaddr.checked_add(load_bias).ok_or(Error::AddressRange)?;
        let va_end = va.checked_add(s.memsz).ok_or(Error::AddressRange)?;
        let start = page_down(va);
        let end = page_up(va_end).ok_or(Error::AddressRange)?;
        if start < MIN_VADDR || end > USER_END {
            return Err(Error::AddressRange);
        }
        // `parse` checked the order; a hand-made `Elf` might not be.
        if va < prev_end || s.filesz > s.memsz || s.vaddr % PAGE_SIZE != s.offset % PAGE_SIZE {
            return Err(Error::Overlap);
        }
        prev_end = va_end;
        regions.push(Region {
            start,
            end,
            prot: s.prot(),
            file_offset: page_down(s.offset),
            file_start: va,
            file_end: va + s.filesz,
        });
    }
    let brk_start = regions.iter().map(|r| r.end).max().ok_or(Error::NoLoad)?;
    let entry = elf.entry.checked_add(load_bias).ok_or(Error::BadEntry)?;

    let table_len = u64::from(elf.phnum) * u64::from(elf.phentsize);
    let phdr_vaddr = if let Some(p) = elf.phdr {
        p.checked_add(load_bias).ok_or(Error::BadPhdr)?
    } else {
        elf.segments
            .iter()
            .find(|s| {
                s.offset <= elf.phoff
                    && elf
                        .phoff
                        .checked_add(table_len)
                        .is_some_and(|e| e <= s.offset + s.filesz)
            })
            .map_or(0, |s| s.vaddr + (elf.phoff - s.offset) + load_bias)
    };
    Ok(LoadPlan {
        load_bias,
        entry,
        phdr_vaddr,
        regions,
        brk_start,
    })
}

/// Computes the contents of the image page at `page_va` into `out` and returns
/// its protection (`PROT_*`, the union over the segments that touch the page).
///
/// Bytes inside a segment's file range come from `elf_bytes` (the file that
/// was parsed); everything else — `.bss`, the tail of the last file page, the
/// gap between two segments sharing the page — is zero.
pub fn page_contents(
    elf_bytes: &[u8],
    plan: &LoadPlan,
    page_va: u64,
    out: &mut [u8; 4096],
) -> Result<u32, Error> {
    out.fill(0);
    if !page_va.is_multiple_of(PAGE_SIZE) {
        return Err(Error::NotMapped);
    }
    let page_end = page_va.checked_add(PAGE_SIZE).ok_or(Error::NotMapped)?;
    let mut prot = None;
    for r in &plan.regions {
        if !(r.start <= page_va && page_va < r.end) {
            continue;
        }
        prot = Some(prot.unwrap_or(0) | r.prot);
        let from = page_va.max(r.file_start);
        let to = page_end.min(r.file_end);
        if from >= to {
            continue;
        }
        // from ≥ file_start ≥ start, so no underflow.
        let file_from = r
            .file_offset
            .checked_add(from - r.start)
            .ok_or(Error::Truncated)?;
        let file_to = file_from.checked_add(to - from).ok_or(Error::Truncated)?;
        let src = usize::try_from(file_from)
            .ok()
            .zip(usize::try_from(file_to).ok())
            .and_then(|(a, b)| elf_bytes.get(a..b))
            .ok_or(Error::Truncated)?;
        let o = (from - page_va) as usize;
        out[o..o + src.len()].copy_from_slice(src);
    }
    prot.ok_or(Error::NotMapped)
}

/// The auxiliary vector values [`build_stack`] writes. `AT_RANDOM` and
/// `AT_EXECFN` point into the stack image and are not listed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aux<'a> {
    /// `AT_PHDR`: address of the program headers.
    pub phdr: u64,
    /// `AT_PHENT`: size of a program header.
    pub phent: u64,
    /// `AT_PHNUM`: number of program headers.
    pub phnum: u64,
    /// `AT_PAGESZ`.
    pub pagesz: u64,
    /// `AT_BASE`: interpreter base (0: none).
    pub base: u64,
    /// `AT_FLAGS`.
    pub flags: u64,
    /// `AT_ENTRY`: the program's entry point.
    pub entry: u64,
    /// `AT_UID`.
    pub uid: u64,
    /// `AT_EUID`.
    pub euid: u64,
    /// `AT_GID`.
    pub gid: u64,
    /// `AT_EGID`.
    pub egid: u64,
    /// `AT_SECURE`.
    pub secure: u64,
    /// `AT_HWCAP`: CPUID.1:EDX on x86.
    pub hwcap: u64,
    /// `AT_HWCAP2`.
    pub hwcap2: u64,
    /// `AT_CLKTCK`: clock ticks per second of `times()`.
    pub clktck: u64,
    /// `AT_PLATFORM` string (copied onto the stack), e.g. `b"x86_64"`.
    pub platform: Option<&'a [u8]>,
    /// `AT_MINSIGSTKSZ`, if given.
    pub minsigstksz: Option<u64>,
    /// `AT_SYSINFO_EHDR` (vDSO address), if given.
    pub sysinfo_ehdr: Option<u64>,
}

impl Aux<'static> {
    /// The values for a loaded static program: `phdr`, `phent`, `phnum` and
    /// `entry` from the file and plan; page size 4096, 100 ticks per second,
    /// platform `x86_64`, ids 0, everything else 0 or absent.
    pub fn new(elf: &Elf, plan: &LoadPlan) -> Self {
        Aux {
            phdr: plan.phdr_vaddr,
            phent: u64::from(elf.phentsize),
            phnum: u64::from(elf.phnum),
            pagesz: PAGE_SIZE,
            base: 0,
            flags: 0,
            entry: plan.entry,
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            secure: 0,
            hwcap: 0,
            hwcap2: 0,
            clktck: 100,
            platform: Some(b"x86_64"),
            minsigstksz: None,
            sysinfo_ehdr: None,
        }
    }
}

/// Lays out the initial stack of a process, as Linux does on x86-64.
///
/// The image is to be copied to `[stack_top - image.len(), stack_top)`; the
/// second value is the initial `rsp` (`= stack_top - image.len()`), 16-byte
/// aligned, where the program finds, upwards:
///
/// ```text
/// rsp →  argc
///        argv[0] … argv[argc-1], 0
///        envp[0] … envp[n-1], 0
///        auxv: (type, value) pairs … (AT_NULL, 0)
///        padding (to 16 bytes)
///        16 AT_RANDOM bytes, AT_PLATFORM string, padding (to 16 bytes)
///        argv strings, envp strings (each NUL-terminated)
///        execfn string (AT_EXECFN)
///        8 zero bytes
/// stack_top
/// ```
///
/// Errors: [`Error::TooBig`] if the strings and pointers exceed
/// [`MAX_ARG_BYTES`], [`Error::BadArg`] if a string contains a NUL,
/// [`Error::BadStackTop`] if `stack_top` is not 16-byte aligned or too low.
pub fn build_stack(
    stack_top: u64,
    argv: &[&[u8]],
    envp: &[&[u8]],
    aux: &Aux<'_>,
    random: [u8; 16],
    execfn: &[u8],
) -> Result<(Vec<u8>, u64), Error> {
    use auxv::*;
    if !stack_top.is_multiple_of(16) {
        return Err(Error::BadStackTop);
    }
    let platform = aux.platform;
    let all_strings = argv
        .iter()
        .chain(envp)
        .chain(core::iter::once(&execfn))
        .chain(platform.as_ref());
    let mut strings_len = 0usize;
    for s in all_strings {
        if s.contains(&0) {
            return Err(Error::BadArg);
        }
        strings_len = strings_len.saturating_add(s.len() + 1);
    }
    let argc = argv.len();
    let envc = envp.len();
    let ptrs = argc
        .saturating_add(envc)
        .saturating_add(3)
        .saturating_mul(8);
    if strings_len.saturating_add(ptrs) > MAX_ARG_BYTES {
        return Err(Error::TooBig);
    }

    let mut auxv: Vec<(u64, u64)> = Vec::with_capacity(24);
    if let Some(v) = aux.sysinfo_ehdr {
        auxv.push((AT_SYSINFO_EHDR, v));
    }
    if let Some(v) = aux.minsigstksz {
        auxv.push((AT_MINSIGSTKSZ, v));
    }
    auxv.extend_from_slice(&[
        (AT_HWCAP, aux.hwcap),
        (AT_PAGESZ, aux.pagesz),
        (AT_CLKTCK, aux.clktck),
        (AT_PHDR, aux.phdr),
        (AT_PHENT, aux.phent),
        (AT_PHNUM, aux.phnum),
        (AT_BASE, aux.base),
        (AT_FLAGS, aux.flags),
        (AT_ENTRY, aux.entry),
        (AT_UID, aux.uid),
        (AT_EUID, aux.euid),
        (AT_GID, aux.gid),
        (AT_EGID, aux.egid),
        (AT_SECURE, aux.secure),
        (AT_RANDOM, 0), // patched below
        (AT_HWCAP2, aux.hwcap2),
        (AT_EXECFN, 0), // patched below
    ]);
    if platform.is_some() {
        auxv.push((AT_PLATFORM, 0)); // patched below
    }
    auxv.push((AT_NULL, 0));

    // Offsets below the top (all sizes are bounded by MAX_ARG_BYTES, so no overflow).
    let top_guard = 8usize;
    let execfn_off = top_guard + execfn.len() + 1; // execfn at top - execfn_off
    let args_len: usize = argv.iter().chain(envp).map(|s| s.len() + 1).sum();
    let strings_off = execfn_off + args_len; // argv[0] at top - strings_off
    let mut off = (strings_off + 15) & !15;
    let platform_off = platform.map(|p| {
        off += p.len() + 1;
        off
    });
    off += 16;
    let random_off = off;
    off = (off + 15) & !15;
    let vector_words = 1 + (argc + 1) + (envc + 1) + 2 * auxv.len();
    let total = (off + vector_words * 8 + 15) & !15;
    let total_u64 = total as u64;
    if stack_top < total_u64 + MIN_VADDR {
        return Err(Error::BadStackTop);
    }
    let rsp = stack_top - total_u64;
    let addr = |off_from_top: usize| stack_top - off_from_top as u64;
    let idx = |off_from_top: usize| total - off_from_top;

    let mut img = vec![0u8; total];
    // Strings.
    let put_str = |img: &mut Vec<u8>, at: usize, s: &[u8]| {
        img[at..at + s.len()].copy_from_slice(s);
        img[at + s.len()] = 0;
    };
    put_str(&mut img, idx(execfn_off), execfn);
    let mut string_ptrs: Vec<u64> = Vec::with_capacity(argc + envc);
    let mut cur = strings_off;
    for s in argv.iter().chain(envp) {
        put_str(&mut img, idx(cur), s);
        string_ptrs.push(addr(cur));
        cur -= s.len() + 1;
    }
    if let (Some(p), Some(po)) = (platform, platform_off) {
        put_str(&mut img, idx(po), p);
    }
    let ri = idx(random_off);
    img[ri..ri + 16].copy_from_slice(&random);

    for a in auxv.iter_mut() {
        match a.0 {
            AT_RANDOM => a.1 = addr(random_off),
            AT_EXECFN => a.1 = addr(execfn_off),
            AT_PLATFORM => a.1 = platform_off.map_or(0, addr),
            _ => {}
        }
    }

    // The vector at rsp.
    let mut w = 0usize;
    let mut word = |img: &mut Vec<u8>, v: u64| {
        img[w..w + 8].copy_from_slice(&v.to_le_bytes());
        w += 8;
    };
    word(&mut img, argc as u64);
    for &p in &string_ptrs[..argc] {
        word(&mut img, p);
    }
    word(&mut img, 0);
    for &p in &string_ptrs[argc..] {
        word(&mut img, p);
    }
    word(&mut img, 0);
    for &(t, v) in &auxv {
        word(&mut img, t);
        word(&mut img, v);
    }
    Ok((img, rsp))
}

//! The serial ports: COM1 is the console, COM2 is the control channel to the
//! runner (the guest's exit status travels there as `exit <status>`).

use core::fmt::{self, Write};
use spin::Mutex;
use uart_16550::SerialPort;

const COM1: u16 = 0x3f8;
const COM2: u16 = 0x2f8;

// SAFETY: COM1 is the standard port address; the kernel owns it.
static CONSOLE: Mutex<SerialPort> = Mutex::new(unsafe { SerialPort::new(COM1) });
// SAFETY: COM2 is the standard port address; the kernel owns it.
static CONTROL: Mutex<SerialPort> = Mutex::new(unsafe { SerialPort::new(COM2) });

/// Initialise both UARTs.
pub fn init() {
    CONSOLE.lock().init();
    CONTROL.lock().init();
}

/// Bytes received on COM1 and not yet consumed.
static INPUT: Mutex<InputRing> = Mutex::new(InputRing {
    buf: [0; INPUT_SIZE],
    head: 0,
    len: 0,
});
const INPUT_SIZE: usize = 4096;

struct InputRing {
    buf: [u8; INPUT_SIZE],
    head: usize,
    len: usize,
}

/// Move bytes waiting in the COM1 receiver into the input ring. Called from
/// the timer interrupt and by readers; never blocks (skips if the ring is
/// busy).
pub fn poll_input() {
    let Some(mut ring) = INPUT.try_lock() else {
        return;
    };
    // Line status register bit 0: data ready.
    while super::cpu::inb(COM1 + 5) & 1 != 0 {
        ARRIVED.store(true, core::sync::atomic::Ordering::Release);
        let b = super::cpu::inb(COM1);
        if ring.len < INPUT_SIZE {
            let tail = (ring.head + ring.len) % INPUT_SIZE;
            ring.buf[tail] = b;
            ring.len += 1;
        }
    }
}

static ARRIVED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether bytes arrived since the last call.
pub fn input_arrived() -> bool {
    ARRIVED.swap(false, core::sync::atomic::Ordering::AcqRel)
}

/// Take one received byte, if any.
pub fn read_byte() -> Option<u8> {
    poll_input();
    let mut ring = INPUT.try_lock()?;
    if ring.len == 0 {
        return None;
    }
    let b = ring.buf[ring.head];
    ring.head = (ring.head + 1) % INPUT_SIZE;
    ring.len -= 1;
    Some(b)
}

/// Write formatted text to the console under the console lock.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let _ = CONSOLE.lock().write_fmt(args);
}

/// Write raw bytes to the console.
pub fn write_bytes(bytes: &[u8]) {
    let mut port = CONSOLE.lock();
    for &b in bytes {
        port.send_raw(b);
    }
}

/// Write to the console without taking its lock: used by the panic and
/// exception paths, which may have interrupted a holder of the lock.
pub fn write_fmt_unlocked(args: fmt::Arguments<'_>) {
    // SAFETY: a second handle on COM1; concurrent use may interleave bytes
    // but cannot break memory safety.
    let mut port = unsafe { SerialPort::new(COM1) };
    let _ = port.write_fmt(args);
}

/// Write to the control port (COM2): the guest's exit status
/// (`exit <status>`) and, with the `quiet` flag, the kernel log. Waits a
/// bounded time for the port's lock, then writes anyway (the panic path may
/// have interrupted a holder).
pub fn control_message(args: fmt::Arguments<'_>) {
    for _ in 0..100_000 {
        if let Some(mut port) = CONTROL.try_lock() {
            let _ = port.write_fmt(args);
            return;
        }
        core::hint::spin_loop();
    }
    // SAFETY: a second handle on COM2; concurrent use may interleave bytes
    // but cannot break memory safety.
    let mut port = unsafe { SerialPort::new(COM2) };
    let _ = port.write_fmt(args);
}

/// `print!` to the kernel console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => ($crate::arch::serial::write_fmt(format_args!($($arg)*)));
}

/// `println!` to the kernel console.
#[macro_export]
macro_rules! kprintln {
    () => ($crate::kprint!("\n"));
    ($($arg:tt)*) => ($crate::arch::serial::write_fmt(format_args!("{}\n", format_args!($($arg)*))));
}

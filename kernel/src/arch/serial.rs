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

/// Tell the runner the guest's exit status.
pub fn control_message(args: fmt::Arguments<'_>) {
    // SAFETY: see `write_fmt_unlocked`; the control port is only written on
    // the way out.
    let mut port = unsafe { SerialPort::new(COM2) };
    let _ = port.write_fmt(args);
    drop(CONTROL.try_lock());
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

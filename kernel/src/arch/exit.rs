//! Ending the run: the status goes to the runner on the control port, then
//! QEMU's isa-debug-exit device stops the machine.

use super::{cpu, serial};

/// Debug-exit value for a normal shutdown (QEMU exits with 1).
const EXIT_NORMAL: u8 = 0;
/// Debug-exit value for a kernel panic or CPU exception (QEMU exits with 255).
const EXIT_PANIC: u8 = 0x7f;

/// Power off with the given status (what the runner exits with).
pub fn exit(status: i32) -> ! {
    serial::control_message(format_args!("exit {status}\n"));
    cpu::outb(0xf4, EXIT_NORMAL);
    cpu::halt_forever()
}

/// Power off reporting a kernel failure (panic or CPU exception).
pub fn exit_failure() -> ! {
    serial::control_message(format_args!("panic\n"));
    cpu::outb(0xf4, EXIT_PANIC);
    cpu::halt_forever()
}

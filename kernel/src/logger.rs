//! Kernel log on the serial console, filtered by the `log=` command-line key.

use crate::arch::{percpu, serial};
use core::sync::atomic::{AtomicBool, Ordering};
use log::{LevelFilter, Metadata, Record};

struct SerialLogger;

impl log::Log for SerialLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let core = percpu::current().core_id();
            if QUIET.load(Ordering::Relaxed) {
                serial::control_message(format_args!(
                    "log [{:<5} c{}] {}\n",
                    record.level(),
                    core,
                    record.args()
                ));
            } else {
                serial::write_fmt(format_args!(
                    "[{:<5} c{}] {}\n",
                    record.level(),
                    core,
                    record.args()
                ));
            }
        }
    }

    fn flush(&self) {}
}

static LOGGER: SerialLogger = SerialLogger;
/// With the `quiet` command-line flag the log goes to the control port
/// (COM2), so the console carries only what programs write.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Send the log to the control port instead of the console.
pub fn set_quiet(q: bool) {
    QUIET.store(q, Ordering::Relaxed);
}

/// Install the logger at level `info`.
pub fn init() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Info);
}

/// Set the level from the command line value (`error|warn|info|debug`).
pub fn set_level(level: Option<&str>) {
    let filter = match level {
        Some("error") => LevelFilter::Error,
        Some("warn") => LevelFilter::Warn,
        Some("debug") => LevelFilter::Debug,
        Some("trace") => LevelFilter::Trace,
        Some("off") => LevelFilter::Off,
        _ => LevelFilter::Info,
    };
    log::set_max_level(filter);
}

//! Clocks: monotonic time from the TSC (calibrated at boot) and wall-clock
//! time from the CMOS real-time clock read once at boot.

use crate::arch::{apic, cpu};
use core::sync::atomic::{AtomicU64, Ordering};

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
/// Wall-clock time at `BOOT_TSC`, in nanoseconds since the Unix epoch.
static BOOT_REALTIME_NS: AtomicU64 = AtomicU64::new(0);

/// Record the boot instant and read the RTC.
pub fn init() {
    BOOT_TSC.store(cpu::rdtsc(), Ordering::Relaxed);
    BOOT_REALTIME_NS.store(read_rtc().saturating_mul(1_000_000_000), Ordering::Relaxed);
}

/// Nanoseconds since boot.
pub fn monotonic_ns() -> u64 {
    let per_us = apic::tsc_per_us().max(1);
    let ticks = cpu::rdtsc().wrapping_sub(BOOT_TSC.load(Ordering::Relaxed));
    // ticks * 1000 / per_us without overflow for centuries of uptime.
    (u128::from(ticks) * 1000 / u128::from(per_us)) as u64
}

/// Nanoseconds since the Unix epoch.
pub fn realtime_ns() -> u64 {
    BOOT_REALTIME_NS
        .load(Ordering::Relaxed)
        .saturating_add(monotonic_ns())
}

/// Wall-clock time as a file-system timestamp.
pub fn now() -> memfs::Timespec {
    let ns = realtime_ns();
    memfs::Timespec {
        sec: (ns / 1_000_000_000) as i64,
        nsec: (ns % 1_000_000_000) as u32,
    }
}

fn cmos(reg: u8) -> u8 {
    cpu::outb(0x70, reg);
    cpu::inb(0x71)
}

/// Seconds since the epoch from the CMOS RTC (UTC, as QEMU provides it).
fn read_rtc() -> u64 {
    // Wait until no update is in progress, then read twice until stable.
    let read = || {
        while cmos(0x0a) & 0x80 != 0 {}
        [
            cmos(0x00),
            cmos(0x02),
            cmos(0x04),
            cmos(0x07),
            cmos(0x08),
            cmos(0x09),
            cmos(0x32),
        ]
    };
    let mut v = read();
    loop {
        let w = read();
        if w == v {
            break;
        }
        v = w;
    }
    let status_b = cmos(0x0b);
    let bcd = |x: u8| {
        if status_b & 0x04 == 0 {
            (x & 0x0f) + (x >> 4) * 10
        } else {
            x
        }
    };
    let (sec, min) = (u64::from(bcd(v[0])), u64::from(bcd(v[1])));
    let mut hour = v[2];
    let pm = hour & 0x80 != 0;
    hour = bcd(hour & 0x7f);
    if status_b & 0x02 == 0 && pm {
        hour = (hour % 12) + 12;
    }
    let (day, month) = (u64::from(bcd(v[3])), u64::from(bcd(v[4])));
    let century = if v[6] != 0 { u64::from(bcd(v[6])) } else { 20 };
    let year = century * 100 + u64::from(bcd(v[5]));
    days_from_civil(year as i64, month as u32, day as u32).max(0) as u64 * 86400
        + u64::from(hour) * 3600
        + min * 60
        + sec
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

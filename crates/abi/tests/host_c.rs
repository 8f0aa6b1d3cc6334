//! Checks the ABI crate against the host's C headers: structure sizes and
//! field offsets (from the kernel UAPI headers), constant values (from glibc
//! and the UAPI headers) and syscall numbers (`<sys/syscall.h>`).
//!
//! Needs `gcc` and the Linux/glibc headers; skipped with a message otherwise.

use abi::flags::*;
use abi::structs::*;
use abi::sysno;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// Compiles and runs `code`; parses its `key value` lines. `None` if gcc or
/// the headers are missing.
fn run_c(tag: &str, code: &str) -> Option<HashMap<String, i128>> {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("SKIP: gcc not found; host header checks not run");
        return None;
    }
    let dir: PathBuf =
        std::env::temp_dir().join(format!("abi-host-c-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("t.c");
    let exe = dir.join("t");
    std::fs::write(&src, code).unwrap();
    let out = Command::new("gcc")
        .arg("-w")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No such file") {
            eprintln!("SKIP: headers missing for {tag}: {err}");
            return None;
        }
        panic!("gcc failed for {tag}:\n{err}");
    }
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    let mut map = HashMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (k, v) = line.split_once(' ').unwrap();
        map.insert(k.to_string(), v.trim().parse::<i128>().unwrap());
    }
    Some(map)
}

// ------------------------------------------------------------------ layouts

const LAYOUT_C: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <asm/stat.h>
#include <linux/stat.h>
#include <linux/sysinfo.h>
#include <linux/utsname.h>
#include <asm/termbits.h>
#include <asm/termios.h>
#include <linux/resource.h>
#include <linux/uio.h>
#include <linux/time_types.h>
#include <linux/poll.h>
#include <linux/times.h>
#define S(T, name) printf("%s.size %zu\n", name, sizeof(T));
#define O(T, name, f) printf("%s.%s %zu\n", name, #f, offsetof(T, f));
int main(void) {
  S(struct stat, "stat")
  O(struct stat, "stat", st_dev) O(struct stat, "stat", st_ino) O(struct stat, "stat", st_nlink)
  O(struct stat, "stat", st_mode) O(struct stat, "stat", st_uid) O(struct stat, "stat", st_gid)
  O(struct stat, "stat", st_rdev) O(struct stat, "stat", st_size) O(struct stat, "stat", st_blksize)
  O(struct stat, "stat", st_blocks) O(struct stat, "stat", st_atime) O(struct stat, "stat", st_atime_nsec)
  O(struct stat, "stat", st_mtime) O(struct stat, "stat", st_mtime_nsec)
  O(struct stat, "stat", st_ctime) O(struct stat, "stat", st_ctime_nsec)

  S(struct statx, "statx")
  O(struct statx, "statx", stx_mask) O(struct statx, "statx", stx_blksize) O(struct statx, "statx", stx_attributes)
  O(struct statx, "statx", stx_nlink) O(struct statx, "statx", stx_uid) O(struct statx, "statx", stx_gid)
  O(struct statx, "statx", stx_mode) O(struct statx, "statx", stx_ino) O(struct statx, "statx", stx_size)
  O(struct statx, "statx", stx_blocks) O(struct statx, "statx", stx_attributes_mask)
  O(struct statx, "statx", stx_atime) O(struct statx, "statx", stx_btime)
  O(struct statx, "statx", stx_ctime) O(struct statx, "statx", stx_mtime)
  O(struct statx, "statx", stx_rdev_major) O(struct statx, "statx", stx_rdev_minor)
  O(struct statx, "statx", stx_dev_major) O(struct statx, "statx", stx_dev_minor)
  O(struct statx, "statx", stx_mnt_id) O(struct statx, "statx", stx_dio_mem_align)
  O(struct statx, "statx", stx_dio_offset_align)
  S(struct statx_timestamp, "statx_timestamp")
  O(struct statx_timestamp, "statx_timestamp", tv_sec) O(struct statx_timestamp, "statx_timestamp", tv_nsec)

  S(struct sysinfo, "sysinfo")
  O(struct sysinfo, "sysinfo", uptime) O(struct sysinfo, "sysinfo", loads) O(struct sysinfo, "sysinfo", totalram)
  O(struct sysinfo, "sysinfo", freeram) O(struct sysinfo, "sysinfo", sharedram) O(struct sysinfo, "sysinfo", bufferram)
  O(struct sysinfo, "sysinfo", totalswap) O(struct sysinfo, "sysinfo", freeswap) O(struct sysinfo, "sysinfo", procs)
  O(struct sysinfo, "sysinfo", totalhigh) O(struct sysinfo, "sysinfo", freehigh) O(struct sysinfo, "sysinfo", mem_unit)

  S(struct new_utsname, "utsname")
  O(struct new_utsname, "utsname", sysname) O(struct new_utsname, "utsname", nodename)
  O(struct new_utsname, "utsname", release) O(struct new_utsname, "utsname", version)
  O(struct new_utsname, "utsname", machine) O(struct new_utsname, "utsname", domainname)

  S(struct termios, "termios")
  O(struct termios, "termios", c_iflag) O(struct termios, "termios", c_oflag) O(struct termios, "termios", c_cflag)
  O(struct termios, "termios", c_lflag) O(struct termios, "termios", c_line) O(struct termios, "termios", c_cc)
  printf("termios.nccs %d\n", NCCS);

  S(struct winsize, "winsize")
  O(struct winsize, "winsize", ws_row) O(struct winsize, "winsize", ws_col)
  O(struct winsize, "winsize", ws_xpixel) O(struct winsize, "winsize", ws_ypixel)
  S(struct rlimit, "rlimit") O(struct rlimit, "rlimit", rlim_cur) O(struct rlimit, "rlimit", rlim_max)
  S(struct iovec, "iovec") O(struct iovec, "iovec", iov_base) O(struct iovec, "iovec", iov_len)
  S(struct __kernel_timespec, "timespec")
  O(struct __kernel_timespec, "timespec", tv_sec) O(struct __kernel_timespec, "timespec", tv_nsec)
  S(struct __kernel_old_timeval, "timeval")
  O(struct __kernel_old_timeval, "timeval", tv_sec) O(struct __kernel_old_timeval, "timeval", tv_usec)
  S(struct pollfd, "pollfd")
  O(struct pollfd, "pollfd", fd) O(struct pollfd, "pollfd", events) O(struct pollfd, "pollfd", revents)
  S(struct tms, "tms")
  O(struct tms, "tms", tms_utime) O(struct tms, "tms", tms_stime)
  O(struct tms, "tms", tms_cutime) O(struct tms, "tms", tms_cstime)
  return 0;
}
"#;

/// Asserts that `bytes` holds `marker` at the C offset of `key`.
fn at(c: &HashMap<String, i128>, bytes: &[u8], key: &str, marker: &[u8]) {
    let off = *c
        .get(key)
        .unwrap_or_else(|| panic!("C did not print {key}")) as usize;
    assert_eq!(
        &bytes[off..off + marker.len()],
        marker,
        "field {key} at C offset {off}"
    );
}

fn size(c: &HashMap<String, i128>, name: &str) -> usize {
    c[&format!("{name}.size")] as usize
}

#[test]
fn layouts_match_linux_headers() {
    let Some(c) = run_c("layout", LAYOUT_C) else {
        return;
    };

    // struct stat
    let s = Stat {
        st_dev: 0x0101_0101_0101_0101,
        st_ino: 0x0202_0202_0202_0202,
        st_nlink: 0x0303_0303_0303_0303,
        st_mode: 0x0404_0404,
        st_uid: 0x0505_0505,
        st_gid: 0x0606_0606,
        st_rdev: 0x0707_0707_0707_0707,
        st_size: 0x0808_0808_0808_0808,
        st_blksize: 0x0909_0909_0909_0909,
        st_blocks: 0x0a0a_0a0a_0a0a_0a0a,
        st_atime: Timespec {
            tv_sec: 0x0b0b_0b0b_0b0b_0b0b,
            tv_nsec: 0x0c0c_0c0c,
        },
        st_mtime: Timespec {
            tv_sec: 0x0d0d_0d0d_0d0d_0d0d,
            tv_nsec: 0x0e0e_0e0e,
        },
        st_ctime: Timespec {
            tv_sec: 0x0f0f_0f0f_0f0f_0f0f,
            tv_nsec: 0x1010_1010,
        },
    };
    let b = s.to_bytes();
    assert_eq!(size(&c, "stat"), Stat::SIZE);
    assert_eq!(b.len(), Stat::SIZE);
    at(&c, &b, "stat.st_dev", &s.st_dev.to_le_bytes());
    at(&c, &b, "stat.st_ino", &s.st_ino.to_le_bytes());
    at(&c, &b, "stat.st_nlink", &s.st_nlink.to_le_bytes());
    at(&c, &b, "stat.st_mode", &s.st_mode.to_le_bytes());
    at(&c, &b, "stat.st_uid", &s.st_uid.to_le_bytes());
    at(&c, &b, "stat.st_gid", &s.st_gid.to_le_bytes());
    at(&c, &b, "stat.st_rdev", &s.st_rdev.to_le_bytes());
    at(&c, &b, "stat.st_size", &s.st_size.to_le_bytes());
    at(&c, &b, "stat.st_blksize", &s.st_blksize.to_le_bytes());
    at(&c, &b, "stat.st_blocks", &s.st_blocks.to_le_bytes());
    at(&c, &b, "stat.st_atime", &s.st_atime.tv_sec.to_le_bytes());
    at(
        &c,
        &b,
        "stat.st_atime_nsec",
        &s.st_atime.tv_nsec.to_le_bytes(),
    );
    at(&c, &b, "stat.st_mtime", &s.st_mtime.tv_sec.to_le_bytes());
    at(
        &c,
        &b,
        "stat.st_mtime_nsec",
        &s.st_mtime.tv_nsec.to_le_bytes(),
    );
    at(&c, &b, "stat.st_ctime", &s.st_ctime.tv_sec.to_le_bytes());
    at(
        &c,
        &b,
        "stat.st_ctime_nsec",
        &s.st_ctime.tv_nsec.to_le_bytes(),
    );
    assert_eq!(Stat::from_bytes(&b), s);

    // struct statx
    let ts = |n: u8| StatxTimestamp {
        tv_sec: i64::from_le_bytes([n; 8]),
        tv_nsec: u32::from_le_bytes([n + 1; 4]),
    };
    let x = Statx {
        stx_mask: 0x0101_0101,
        stx_blksize: 0x0202_0202,
        stx_attributes: 0x0303_0303_0303_0303,
        stx_nlink: 0x0404_0404,
        stx_uid: 0x0505_0505,
        stx_gid: 0x0606_0606,
        stx_mode: 0x0707,
        stx_ino: 0x0808_0808_0808_0808,
        stx_size: 0x0909_0909_0909_0909,
        stx_blocks: 0x0a0a_0a0a_0a0a_0a0a,
        stx_attributes_mask: 0x0b0b_0b0b_0b0b_0b0b,
        stx_atime: ts(0x10),
        stx_btime: ts(0x20),
        stx_ctime: ts(0x30),
        stx_mtime: ts(0x40),
        stx_rdev_major: 0x5151_5151,
        stx_rdev_minor: 0x5252_5252,
        stx_dev_major: 0x5353_5353,
        stx_dev_minor: 0x5454_5454,
        stx_mnt_id: 0x5555_5555_5555_5555,
        stx_dio_mem_align: 0x5656_5656,
        stx_dio_offset_align: 0x5757_5757,
        stx_subvol: 0x5858_5858_5858_5858,
    };
    let b = x.to_bytes();
    assert_eq!(size(&c, "statx"), Statx::SIZE);
    assert_eq!(size(&c, "statx_timestamp"), 16);
    assert_eq!(c["statx_timestamp.tv_nsec"], 8);
    at(&c, &b, "statx.stx_mask", &x.stx_mask.to_le_bytes());
    at(&c, &b, "statx.stx_blksize", &x.stx_blksize.to_le_bytes());
    at(
        &c,
        &b,
        "statx.stx_attributes",
        &x.stx_attributes.to_le_bytes(),
    );
    at(&c, &b, "statx.stx_nlink", &x.stx_nlink.to_le_bytes());
    at(&c, &b, "statx.stx_uid", &x.stx_uid.to_le_bytes());
    at(&c, &b, "statx.stx_gid", &x.stx_gid.to_le_bytes());
    at(&c, &b, "statx.stx_mode", &x.stx_mode.to_le_bytes());
    at(&c, &b, "statx.stx_ino", &x.stx_ino.to_le_bytes());
    at(&c, &b, "statx.stx_size", &x.stx_size.to_le_bytes());
    at(&c, &b, "statx.stx_blocks", &x.stx_blocks.to_le_bytes());
    at(
        &c,
        &b,
        "statx.stx_attributes_mask",
        &x.stx_attributes_mask.to_le_bytes(),
    );
    for (key, t) in [
        ("statx.stx_atime", x.stx_atime),
        ("statx.stx_btime", x.stx_btime),
        ("statx.stx_ctime", x.stx_ctime),
        ("statx.stx_mtime", x.stx_mtime),
    ] {
        let mut m = t.tv_sec.to_le_bytes().to_vec();
        m.extend_from_slice(&t.tv_nsec.to_le_bytes());
        at(&c, &b, key, &m);
    }
    at(
        &c,
        &b,
        "statx.stx_rdev_major",
        &x.stx_rdev_major.to_le_bytes(),
    );
    at(
        &c,
        &b,
        "statx.stx_rdev_minor",
        &x.stx_rdev_minor.to_le_bytes(),
    );
    at(
        &c,
        &b,
        "statx.stx_dev_major",
        &x.stx_dev_major.to_le_bytes(),
    );
    at(
        &c,
        &b,
        "statx.stx_dev_minor",
        &x.stx_dev_minor.to_le_bytes(),
    );
    at(&c, &b, "statx.stx_mnt_id", &x.stx_mnt_id.to_le_bytes());
    at(
        &c,
        &b,
        "statx.stx_dio_mem_align",
        &x.stx_dio_mem_align.to_le_bytes(),
    );
    at(
        &c,
        &b,
        "statx.stx_dio_offset_align",
        &x.stx_dio_offset_align.to_le_bytes(),
    );
    // stx_subvol (Linux 6.10) follows stx_dio_offset_align.
    assert_eq!(
        c["statx.stx_dio_offset_align"] + 4,
        Statx::OFF_SUBVOL as i128
    );
    assert_eq!(Statx::from_bytes(&b), x);

    // struct sysinfo
    let si = Sysinfo {
        uptime: 0x0101_0101_0101_0101,
        loads: [0x0202_0202_0202_0202, 0x0303, 0x0404],
        totalram: 0x0505_0505_0505_0505,
        freeram: 0x0606_0606_0606_0606,
        sharedram: 0x0707_0707_0707_0707,
        bufferram: 0x0808_0808_0808_0808,
        totalswap: 0x0909_0909_0909_0909,
        freeswap: 0x0a0a_0a0a_0a0a_0a0a,
        procs: 0x0b0b,
        totalhigh: 0x0c0c_0c0c_0c0c_0c0c,
        freehigh: 0x0d0d_0d0d_0d0d_0d0d,
        mem_unit: 0x0e0e_0e0e,
    };
    let b = si.to_bytes();
    assert_eq!(size(&c, "sysinfo"), Sysinfo::SIZE);
    at(&c, &b, "sysinfo.uptime", &si.uptime.to_le_bytes());
    at(&c, &b, "sysinfo.loads", &si.loads[0].to_le_bytes());
    at(&c, &b, "sysinfo.totalram", &si.totalram.to_le_bytes());
    at(&c, &b, "sysinfo.freeram", &si.freeram.to_le_bytes());
    at(&c, &b, "sysinfo.sharedram", &si.sharedram.to_le_bytes());
    at(&c, &b, "sysinfo.bufferram", &si.bufferram.to_le_bytes());
    at(&c, &b, "sysinfo.totalswap", &si.totalswap.to_le_bytes());
    at(&c, &b, "sysinfo.freeswap", &si.freeswap.to_le_bytes());
    at(&c, &b, "sysinfo.procs", &si.procs.to_le_bytes());
    at(&c, &b, "sysinfo.totalhigh", &si.totalhigh.to_le_bytes());
    at(&c, &b, "sysinfo.freehigh", &si.freehigh.to_le_bytes());
    at(&c, &b, "sysinfo.mem_unit", &si.mem_unit.to_le_bytes());
    assert_eq!(Sysinfo::from_bytes(&b), si);

    // struct new_utsname
    let u = Utsname::new(b"sys", b"node", b"rel", b"ver", b"mach", b"dom");
    let b = u.to_bytes();
    assert_eq!(size(&c, "utsname"), Utsname::SIZE);
    at(&c, &b, "utsname.sysname", b"sys\0");
    at(&c, &b, "utsname.nodename", b"node\0");
    at(&c, &b, "utsname.release", b"rel\0");
    at(&c, &b, "utsname.version", b"ver\0");
    at(&c, &b, "utsname.machine", b"mach\0");
    at(&c, &b, "utsname.domainname", b"dom\0");

    // kernel struct termios
    let mut cc = [0u8; NCCS];
    for (i, v) in cc.iter_mut().enumerate() {
        *v = 0x40 + i as u8;
    }
    let t = Termios {
        c_iflag: 0x0101_0101,
        c_oflag: 0x0202_0202,
        c_cflag: 0x0303_0303,
        c_lflag: 0x0404_0404,
        c_line: 0x05,
        c_cc: cc,
    };
    let b = t.to_bytes();
    assert_eq!(size(&c, "termios"), Termios::SIZE);
    assert_eq!(c["termios.nccs"], NCCS as i128);
    at(&c, &b, "termios.c_iflag", &t.c_iflag.to_le_bytes());
    at(&c, &b, "termios.c_oflag", &t.c_oflag.to_le_bytes());
    at(&c, &b, "termios.c_cflag", &t.c_cflag.to_le_bytes());
    at(&c, &b, "termios.c_lflag", &t.c_lflag.to_le_bytes());
    at(&c, &b, "termios.c_line", &[t.c_line]);
    at(&c, &b, "termios.c_cc", &t.c_cc);
    assert_eq!(Termios::from_bytes(&b), t);

    // small ones
    let w = Winsize {
        ws_row: 0x0101,
        ws_col: 0x0202,
        ws_xpixel: 0x0303,
        ws_ypixel: 0x0404,
    };
    let b = w.to_bytes();
    assert_eq!(size(&c, "winsize"), Winsize::SIZE);
    at(&c, &b, "winsize.ws_row", &w.ws_row.to_le_bytes());
    at(&c, &b, "winsize.ws_col", &w.ws_col.to_le_bytes());
    at(&c, &b, "winsize.ws_xpixel", &w.ws_xpixel.to_le_bytes());
    at(&c, &b, "winsize.ws_ypixel", &w.ws_ypixel.to_le_bytes());

    let r = Rlimit {
        rlim_cur: 1,
        rlim_max: u64::MAX,
    };
    let b = r.to_bytes();
    assert_eq!(size(&c, "rlimit"), Rlimit::SIZE);
    at(&c, &b, "rlimit.rlim_cur", &1u64.to_le_bytes());
    at(&c, &b, "rlimit.rlim_max", &u64::MAX.to_le_bytes());

    let v = Iovec {
        iov_base: 0x1234,
        iov_len: 0x99,
    };
    let b = v.to_bytes();
    assert_eq!(size(&c, "iovec"), Iovec::SIZE);
    at(&c, &b, "iovec.iov_base", &v.iov_base.to_le_bytes());
    at(&c, &b, "iovec.iov_len", &v.iov_len.to_le_bytes());

    let t = Timespec {
        tv_sec: 0x0101,
        tv_nsec: 0x0202,
    };
    let b = t.to_bytes();
    assert_eq!(size(&c, "timespec"), Timespec::SIZE);
    at(&c, &b, "timespec.tv_sec", &t.tv_sec.to_le_bytes());
    at(&c, &b, "timespec.tv_nsec", &t.tv_nsec.to_le_bytes());
    let t = Timeval {
        tv_sec: 0x0101,
        tv_usec: 0x0202,
    };
    let b = t.to_bytes();
    assert_eq!(size(&c, "timeval"), Timeval::SIZE);
    at(&c, &b, "timeval.tv_sec", &t.tv_sec.to_le_bytes());
    at(&c, &b, "timeval.tv_usec", &t.tv_usec.to_le_bytes());

    let p = Pollfd {
        fd: -5,
        events: 0x0101,
        revents: 0x0202,
    };
    let b = p.to_bytes();
    assert_eq!(size(&c, "pollfd"), Pollfd::SIZE);
    at(&c, &b, "pollfd.fd", &p.fd.to_le_bytes());
    at(&c, &b, "pollfd.events", &p.events.to_le_bytes());
    at(&c, &b, "pollfd.revents", &p.revents.to_le_bytes());

    let t = Tms {
        tms_utime: 1,
        tms_stime: 2,
        tms_cutime: 3,
        tms_cstime: 4,
    };
    let b = t.to_bytes();
    assert_eq!(size(&c, "tms"), Tms::SIZE);
    at(&c, &b, "tms.tms_utime", &1i64.to_le_bytes());
    at(&c, &b, "tms.tms_stime", &2i64.to_le_bytes());
    at(&c, &b, "tms.tms_cutime", &3i64.to_le_bytes());
    at(&c, &b, "tms.tms_cstime", &4i64.to_le_bytes());
}

// ------------------------------------------------------------------ dirent64

#[test]
fn dirent64_matches_glibc() {
    let code = r#"
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <dirent.h>
int main(void) {
  printf("d_ino %zu\nd_off %zu\nd_reclen %zu\nd_type %zu\nd_name %zu\n",
    offsetof(struct dirent64, d_ino), offsetof(struct dirent64, d_off),
    offsetof(struct dirent64, d_reclen), offsetof(struct dirent64, d_type),
    offsetof(struct dirent64, d_name));
  return 0;
}
"#;
    let Some(c) = run_c("dirent", code) else {
        return;
    };
    assert_eq!(c["d_ino"], 0);
    assert_eq!(c["d_off"], 8);
    assert_eq!(c["d_reclen"], 16);
    assert_eq!(c["d_type"], 18);
    assert_eq!(c["d_name"], DIRENT64_NAME_OFFSET as i128);
}

// ------------------------------------------------------------------ constants

/// `(rust name, C expression, value, width in bits)`.
type Const = (&'static str, &'static str, i128, u32);

macro_rules! consts {
    ($($name:ident $(= $c:literal)?),* $(,)?) => {
        vec![$({
            #[allow(unused_variables)]
            let cname = stringify!($name);
            $(let cname = $c;)?
            (stringify!($name), cname, $name as i128, (std::mem::size_of_val(&$name) * 8) as u32)
        }),*]
    };
}

fn all_consts() -> Vec<Const> {
    consts![
        O_RDONLY,
        O_WRONLY,
        O_RDWR,
        O_ACCMODE,
        O_CREAT,
        O_EXCL,
        O_NOCTTY,
        O_TRUNC,
        O_APPEND,
        O_NONBLOCK,
        O_NDELAY,
        O_DSYNC,
        O_ASYNC,
        O_DIRECT,
        O_DIRECTORY,
        O_NOFOLLOW,
        O_NOATIME,
        O_CLOEXEC,
        O_SYNC,
        O_PATH,
        O_TMPFILE,
        AT_FDCWD,
        AT_SYMLINK_NOFOLLOW,
        AT_EACCESS,
        AT_REMOVEDIR,
        AT_SYMLINK_FOLLOW,
        AT_NO_AUTOMOUNT,
        AT_EMPTY_PATH,
        AT_STATX_SYNC_TYPE,
        AT_STATX_SYNC_AS_STAT,
        AT_STATX_FORCE_SYNC,
        AT_STATX_DONT_SYNC,
        AT_RECURSIVE,
        RENAME_NOREPLACE,
        RENAME_EXCHANGE,
        RENAME_WHITEOUT,
        F_OK,
        X_OK,
        W_OK,
        R_OK,
        S_IFMT,
        S_IFSOCK,
        S_IFLNK,
        S_IFREG,
        S_IFBLK,
        S_IFDIR,
        S_IFCHR,
        S_IFIFO,
        S_ISUID,
        S_ISGID,
        S_ISVTX,
        DT_UNKNOWN,
        DT_FIFO,
        DT_CHR,
        DT_DIR,
        DT_BLK,
        DT_REG,
        DT_LNK,
        DT_SOCK,
        DT_WHT,
        PROT_NONE,
        PROT_READ,
        PROT_WRITE,
        PROT_EXEC,
        PROT_GROWSDOWN,
        PROT_GROWSUP,
        MAP_SHARED,
        MAP_PRIVATE,
        MAP_SHARED_VALIDATE,
        MAP_TYPE,
        MAP_FIXED,
        MAP_ANONYMOUS,
        MAP_ANON,
        MAP_32BIT,
        MAP_GROWSDOWN,
        MAP_DENYWRITE,
        MAP_EXECUTABLE,
        MAP_LOCKED,
        MAP_NORESERVE,
        MAP_POPULATE,
        MAP_NONBLOCK,
        MAP_STACK,
        MAP_HUGETLB,
        MAP_SYNC,
        MAP_FIXED_NOREPLACE,
        MREMAP_MAYMOVE,
        MREMAP_FIXED,
        MREMAP_DONTUNMAP,
        MS_ASYNC,
        MS_INVALIDATE,
        MS_SYNC,
        MADV_NORMAL,
        MADV_RANDOM,
        MADV_SEQUENTIAL,
        MADV_WILLNEED,
        MADV_DONTNEED,
        MADV_FREE,
        F_DUPFD,
        F_GETFD,
        F_SETFD,
        F_GETFL,
        F_SETFL,
        F_GETLK,
        F_SETLK,
        F_SETLKW,
        F_SETOWN,
        F_GETOWN,
        F_SETSIG,
        F_GETSIG,
        F_SETOWN_EX,
        F_GETOWN_EX,
        F_OFD_GETLK,
        F_OFD_SETLK,
        F_OFD_SETLKW,
        F_DUPFD_CLOEXEC,
        F_SETPIPE_SZ,
        F_GETPIPE_SZ,
        F_ADD_SEALS,
        F_GET_SEALS,
        FD_CLOEXEC,
        F_RDLCK,
        F_WRLCK,
        F_UNLCK,
        SEEK_SET,
        SEEK_CUR,
        SEEK_END,
        SEEK_DATA,
        SEEK_HOLE,
        CLOCK_REALTIME,
        CLOCK_MONOTONIC,
        CLOCK_PROCESS_CPUTIME_ID,
        CLOCK_THREAD_CPUTIME_ID,
        CLOCK_MONOTONIC_RAW,
        CLOCK_REALTIME_COARSE,
        CLOCK_MONOTONIC_COARSE,
        CLOCK_BOOTTIME,
        CLOCK_REALTIME_ALARM,
        CLOCK_BOOTTIME_ALARM,
        CLOCK_TAI,
        TIMER_ABSTIME,
        TCGETS,
        TCSETS,
        TCSETSW,
        TCSETSF,
        TCSBRK,
        TCXONC,
        TCFLSH,
        TIOCSCTTY,
        TIOCGPGRP,
        TIOCSPGRP,
        TIOCOUTQ,
        TIOCSTI,
        TIOCGWINSZ,
        TIOCSWINSZ,
        FIONREAD,
        TIOCINQ,
        FIONBIO,
        TIOCNOTTY,
        TIOCGSID,
        FIONCLEX,
        FIOCLEX,
        FIOASYNC,
        TCSANOW,
        TCSADRAIN,
        TCSAFLUSH,
        TCIFLUSH,
        TCOFLUSH,
        TCIOFLUSH,
        IGNBRK,
        BRKINT,
        IGNPAR,
        PARMRK,
        INPCK,
        ISTRIP,
        INLCR,
        IGNCR,
        ICRNL,
        IUCLC,
        IXON,
        IXANY,
        IXOFF,
        IMAXBEL,
        IUTF8,
        OPOST,
        OLCUC,
        ONLCR,
        OCRNL,
        ONOCR,
        ONLRET,
        CBAUD,
        B38400,
        CSIZE,
        CS8,
        CSTOPB,
        CREAD,
        PARENB,
        HUPCL,
        CLOCAL,
        ISIG,
        ICANON,
        ECHO,
        ECHOE,
        ECHOK,
        ECHONL,
        NOFLSH,
        TOSTOP,
        ECHOCTL,
        ECHOPRT,
        ECHOKE,
        IEXTEN,
        VINTR,
        VQUIT,
        VERASE,
        VKILL,
        VEOF,
        VTIME,
        VMIN,
        VSWTC,
        VSTART,
        VSTOP,
        VSUSP,
        VEOL,
        VREPRINT,
        VDISCARD,
        VWERASE,
        VLNEXT,
        VEOL2,
        ARCH_SET_GS,
        ARCH_SET_FS,
        ARCH_GET_FS,
        ARCH_GET_GS,
        ARCH_GET_CPUID,
        ARCH_SET_CPUID,
        SIGHUP,
        SIGINT,
        SIGQUIT,
        SIGILL,
        SIGTRAP,
        SIGABRT,
        SIGIOT,
        SIGBUS,
        SIGFPE,
        SIGKILL,
        SIGUSR1,
        SIGSEGV,
        SIGUSR2,
        SIGPIPE,
        SIGALRM,
        SIGTERM,
        SIGSTKFLT,
        SIGCHLD,
        SIGCONT,
        SIGSTOP,
        SIGTSTP,
        SIGTTIN,
        SIGTTOU,
        SIGURG,
        SIGXCPU,
        SIGXFSZ,
        SIGVTALRM,
        SIGPROF,
        SIGWINCH,
        SIGIO,
        SIGPOLL,
        SIGPWR,
        SIGSYS,
        SIGRTMIN = "__SIGRTMIN",
        SIGRTMAX = "__SIGRTMAX",
        NSIG = "_NSIG",
        SIG_DFL,
        SIG_IGN,
        SIG_BLOCK,
        SIG_UNBLOCK,
        SIG_SETMASK,
        SA_NOCLDSTOP,
        SA_NOCLDWAIT,
        SA_SIGINFO,
        SA_RESTORER,
        SA_ONSTACK,
        SA_RESTART,
        SA_NODEFER,
        SA_RESETHAND,
        WNOHANG,
        WUNTRACED,
        WSTOPPED,
        WEXITED,
        WCONTINUED,
        WNOWAIT,
        WALL = "__WALL",
        WCLONE = "__WCLONE",
        P_ALL,
        P_PID,
        P_PGID,
        CSIGNAL,
        CLONE_VM,
        CLONE_FS,
        CLONE_FILES,
        CLONE_SIGHAND,
        CLONE_PIDFD,
        CLONE_PTRACE,
        CLONE_VFORK,
        CLONE_PARENT,
        CLONE_THREAD,
        CLONE_NEWNS,
        CLONE_SYSVSEM,
        CLONE_SETTLS,
        CLONE_PARENT_SETTID,
        CLONE_CHILD_CLEARTID,
        CLONE_DETACHED,
        CLONE_UNTRACED,
        CLONE_CHILD_SETTID,
        CLONE_NEWCGROUP,
        CLONE_NEWUTS,
        CLONE_NEWIPC,
        CLONE_NEWUSER,
        CLONE_NEWPID,
        CLONE_NEWNET,
        CLONE_IO,
        FUTEX_WAIT,
        FUTEX_WAKE,
        FUTEX_REQUEUE,
        FUTEX_CMP_REQUEUE,
        FUTEX_WAKE_OP,
        FUTEX_WAIT_BITSET,
        FUTEX_WAKE_BITSET,
        FUTEX_PRIVATE_FLAG,
        FUTEX_CLOCK_REALTIME,
        FUTEX_CMD_MASK,
        FUTEX_BITSET_MATCH_ANY,
        POLLIN,
        POLLPRI,
        POLLOUT,
        POLLERR,
        POLLHUP,
        POLLNVAL,
        POLLRDNORM,
        POLLRDBAND,
        POLLWRNORM,
        POLLWRBAND,
        POLLRDHUP,
        RLIMIT_CPU,
        RLIMIT_FSIZE,
        RLIMIT_DATA,
        RLIMIT_STACK,
        RLIMIT_CORE,
        RLIMIT_RSS,
        RLIMIT_NPROC,
        RLIMIT_NOFILE,
        RLIMIT_MEMLOCK,
        RLIMIT_AS,
        RLIMIT_LOCKS,
        RLIMIT_SIGPENDING,
        RLIMIT_MSGQUEUE,
        RLIMIT_NICE,
        RLIMIT_RTPRIO,
        RLIMIT_RTTIME,
        RLIM_NLIMITS,
        RLIM_INFINITY,
        GRND_NONBLOCK,
        GRND_RANDOM,
        GRND_INSECURE,
        STATX_TYPE,
        STATX_MODE,
        STATX_NLINK,
        STATX_UID,
        STATX_GID,
        STATX_ATIME,
        STATX_MTIME,
        STATX_CTIME,
        STATX_INO,
        STATX_SIZE,
        STATX_BLOCKS,
        STATX_BASIC_STATS,
        STATX_BTIME,
        STATX_MNT_ID,
        STATX_DIOALIGN,
        STATX_ALL,
        PR_SET_PDEATHSIG,
        PR_GET_PDEATHSIG,
        PR_SET_NAME,
        PR_GET_NAME,
    ]
}

/// Names that are enumerators (not macros) in glibc, so `#ifdef` cannot test them.
const ENUMS: &[&str] = &["P_ALL", "P_PID", "P_PGID"];

#[test]
fn constants_match_host_headers() {
    let consts = all_consts();
    let mut code = String::from(
        r#"
#define _GNU_SOURCE
#include <stdio.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <poll.h>
#include <sched.h>
#include <time.h>
#include <dirent.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/prctl.h>
#include <asm/prctl.h>
#include <linux/futex.h>
#include <linux/mman.h>
#define P(name, expr) printf("%s %lld\n", name, (long long)(intptr_t)(expr));
int main(void) {
"#,
    );
    for (name, cname, _, _) in &consts {
        if ENUMS.contains(cname) {
            writeln!(code, "P(\"{name}\", {cname})").unwrap();
        } else {
            writeln!(code, "#ifdef {cname}\nP(\"{name}\", {cname})\n#endif").unwrap();
        }
    }
    code.push_str("return 0; }\n");
    let Some(c) = run_c("consts", &code) else {
        return;
    };

    let mut missing = vec![];
    let mut bad = vec![];
    for (name, cname, value, bits) in &consts {
        let Some(&cv) = c.get(*name) else {
            missing.push(*cname);
            continue;
        };
        // Compare in the Rust constant's width (C may print `~x` as negative).
        let mask: i128 = (1i128 << bits) - 1;
        if cv & mask != value & mask {
            bad.push(format!("{name}: rust {value:#x}, C {cname} = {cv:#x}"));
        }
    }
    assert!(
        bad.is_empty(),
        "constants differ from the host headers:\n{}",
        bad.join("\n")
    );
    if !missing.is_empty() {
        eprintln!("not defined by the host headers (checked by value only): {missing:?}");
    }
    // The important ones must have been checked.
    for must in [
        "O_CLOEXEC",
        "O_PATH",
        "AT_FDCWD",
        "MAP_FIXED_NOREPLACE",
        "TCGETS",
        "TIOCGWINSZ",
        "FIONREAD",
        "ARCH_SET_FS",
        "SIGCHLD",
        "ICANON",
        "VMIN",
        "RLIMIT_NOFILE",
        "GRND_NONBLOCK",
        "STATX_BASIC_STATS",
        "CLONE_SETTLS",
        "FUTEX_WAIT_BITSET",
        "F_DUPFD_CLOEXEC",
    ] {
        assert!(c.contains_key(must), "{must} was not checked against C");
    }
    assert!(c.len() + missing.len() == consts.len());
    assert!(missing.len() < 10, "too many unchecked: {missing:?}");
}

#[test]
fn syscall_numbers_match_host_headers() {
    let mut code = String::from("#include <stdio.h>\n#include <sys/syscall.h>\nint main(void) {\n");
    for (nr, name) in sysno::ALL {
        let _ = nr;
        writeln!(
            code,
            "#ifdef SYS_{name}\nprintf(\"{name} %ld\\n\", (long)SYS_{name});\n#endif"
        )
        .unwrap();
    }
    code.push_str("return 0; }\n");
    let Some(c) = run_c("sysno", &code) else {
        return;
    };
    let mut checked = 0;
    for (nr, name) in sysno::ALL {
        if let Some(&v) = c.get(*name) {
            assert_eq!(v, *nr as i128, "{name}");
            checked += 1;
        }
    }
    eprintln!(
        "{checked} of {} syscall numbers checked against <sys/syscall.h>",
        sysno::ALL.len()
    );
    assert!(checked > 300);
}

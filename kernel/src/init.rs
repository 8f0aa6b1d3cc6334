//! Start-up of user space: the root file system from the initrd, the device
//! and `/proc` nodes, the replicated kernel state, and process 1.

use crate::process::{self, Thread};
use crate::{state, time};
use abi::flags::{AT_FDCWD, O_RDWR, S_IFCHR};
use alloc::vec::Vec;
use kstate::{dev, WriteOp};
use memfs::Fs;

/// Where the runner stores the command for process 1 in the initrd: its
/// arguments, each followed by a NUL byte.
pub const CMD_FILE: &[u8] = b"/etc/nros/cmd";

/// Build the root file system from the cpio archive `initrd` (may be gzip
/// compressed or empty).
pub fn build_fs(initrd: &[u8]) -> Fs {
    let now = time::now();
    let mut fs = Fs::new(now);
    if !initrd.is_empty() {
        match cpio::decompress_if_gzip(initrd, 1 << 30) {
            Ok(data) => unpack(&mut fs, &data),
            Err(e) => log::error!("initrd: cannot decompress: {e:?}"),
        }
    }
    for d in [
        &b"/dev"[..],
        b"/proc",
        b"/proc/nr",
        b"/proc/self",
        b"/tmp",
        b"/etc",
        b"/bin",
    ] {
        let _ = fs.mkdir_all(d, 0o755, now);
    }
    let _ = fs.chmod(
        fs.lookup(Fs::ROOT, b"/tmp", true).unwrap_or(Fs::ROOT),
        0o1777,
        now,
    );
    for (name, rdev, mode) in [
        (&b"/dev/console"[..], dev::CONSOLE, 0o600),
        (b"/dev/tty", dev::TTY, 0o666),
        (b"/dev/null", dev::NULL, 0o666),
        (b"/dev/zero", dev::ZERO, 0o666),
        (b"/dev/random", dev::RANDOM, 0o666),
        (b"/dev/urandom", dev::URANDOM, 0o666),
    ] {
        let _ = fs.mknod(Fs::ROOT, name, S_IFCHR | mode, rdev, 0, now);
    }
    // Placeholders so that `ls /proc/nr` lists the generated files; opening
    // them returns fresh content (see `syscall::proc_file`).
    for name in [
        &b"/proc/nr/replicas"[..],
        b"/proc/nr/stats",
        b"/proc/nr/threads",
        b"/proc/meminfo",
    ] {
        let _ = fs.create_file_with_data(name, 0o444, b"", now);
    }
    fs
}

fn unpack(fs: &mut Fs, data: &[u8]) {
    let mut files = 0usize;
    let mut bytes = 0usize;
    for e in cpio::entries(data) {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                log::error!("initrd: {err:?}");
                break;
            }
        };
        let path = e.path();
        if path.is_empty() || path == b"." {
            continue;
        }
        let mut abs = Vec::with_capacity(path.len() + 1);
        abs.push(b'/');
        abs.extend_from_slice(path);
        let mtime = memfs::Timespec {
            sec: i64::from(e.mtime),
            nsec: 0,
        };
        let perm = e.perm();
        let r = if e.is_dir() {
            fs.mkdir_all(&abs, perm, mtime)
                .and_then(|ino| fs.chmod(ino, perm, mtime))
        } else if e.is_file() {
            files += 1;
            bytes += e.data.len();
            fs.create_file_with_data(&abs, perm, e.data, mtime)
                .map(|_| ())
        } else if e.is_symlink() {
            let (parent, _) = split(&abs);
            let _ = fs.mkdir_all(parent, 0o755, mtime);
            fs.symlink(e.data, Fs::ROOT, &abs, mtime).map(|_| ())
        } else {
            Ok(())
        };
        if let Err(err) = r {
            log::warn!(
                "initrd: {}: {}",
                core::str::from_utf8(&abs).unwrap_or("?"),
                err.name()
            );
        }
    }
    log::info!("initrd: {files} files, {} KiB", bytes / 1024);
}

fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => (b"/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b".", path),
    }
}

/// The command of process 1: the kernel command line's `init=PATH` (with
/// arguments after a lone `--`), else the initrd's [`CMD_FILE`] (written by
/// `cargo xtask run --cmd`), else `/bin/sh` if present, else none.
fn init_command(fs: &Fs) -> Option<Vec<Vec<u8>>> {
    let cmdline = crate::cmdline();
    if let Some(init) = cmdline.get("init").filter(|s| !s.is_empty()) {
        let mut argv = alloc::vec![init.as_bytes().to_vec()];
        argv.extend(
            cmdline
                .init_args()
                .split_ascii_whitespace()
                .map(|a| a.as_bytes().to_vec()),
        );
        return Some(argv);
    }
    if let Ok(ino) = fs.lookup(Fs::ROOT, CMD_FILE, true) {
        let size = fs.stat(ino).map(|s| s.size).unwrap_or(0) as usize;
        let mut buf = alloc::vec![0u8; size];
        if fs.read(ino, 0, &mut buf).is_ok() {
            let args: Vec<Vec<u8>> = buf
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            if !args.is_empty() {
                return Some(args);
            }
        }
    }
    if fs.lookup(Fs::ROOT, b"/bin/sh", true).is_ok() {
        return Some(alloc::vec![b"/bin/sh".to_vec()]);
    }
    None
}

const DEMO: &str = "\
NrOS (Rust) is running, but the initrd holds no program to start.
Add your own static Linux x86-64 executable and run it:

    cargo xtask run --add ./myprog --cmd \"/bin/myprog arg1 arg2\"

(--add HOST[:GUEST] copies files or directories into the root file system;
without --cmd, /bin/sh runs if present: busybox is added automatically when
the host has Debian's busybox-static.)
";

/// Start user space: process 1 and the schedulers of every core. Returns
/// only when there is no program to run (with the status to power off with).
pub fn run(initrd: &[u8]) -> i32 {
    crate::syscall::TRACE.store(
        crate::cmdline().flag("strace"),
        core::sync::atomic::Ordering::Relaxed,
    );
    let fs = build_fs(initrd);
    let cmd = init_command(&fs);
    state::init(fs);
    let Some(argv) = cmd else {
        crate::console::write(DEMO.as_bytes());
        return 0;
    };
    let path = argv[0].clone();
    let envp: Vec<Vec<u8>> = [
        &b"PATH=/bin:/sbin:/usr/bin:/usr/sbin"[..],
        b"HOME=/",
        b"TERM=vt100",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    let pid = match process::spawn(0, &path) {
        Ok(p) => p,
        Err(e) => {
            log::error!("cannot create process 1: {}", e.name());
            return 127;
        }
    };
    // stdin, stdout and stderr: the console.
    for _ in 0..3 {
        let open = WriteOp::Open {
            pid,
            dirfd: AT_FDCWD,
            path: b"/dev/console".to_vec(),
            flags: O_RDWR,
            mode: 0,
            now: time::now(),
        };
        if let Err(e) = state::execute_mut(open) {
            log::error!("cannot open /dev/console: {}", e.name());
        }
    }
    match process::exec(pid, &path, &argv, &envp) {
        Ok(ctx) => {
            log::info!(
                "starting process 1: {}",
                String::from_utf8_lossy(&argv.join(&b' '))
            );
            crate::sched::spawn(alloc::boxed::Box::new(Thread::new(pid, ctx)));
            crate::sched::start();
            crate::sched::run_core()
        }
        Err(e) => {
            let msg = alloc::format!(
                "init: cannot execute {}: {}\n",
                String::from_utf8_lossy(&path),
                e.errno.name()
            );
            crate::console::write(msg.as_bytes());
            if e.errno == abi::Errno::ENOENT {
                127
            } else {
                126
            }
        }
    }
}

use alloc::string::String;

//! Booting the kernel in QEMU: command line, exit-status protocol, timeout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runner exit status when the kernel panicked or took a CPU exception.
pub const STATUS_KERNEL_PANIC: i32 = 222;
/// Runner exit status when the machine reset (e.g. a triple fault) or QEMU
/// ended without the kernel reporting a status.
pub const STATUS_NO_STATUS: i32 = 223;
/// Runner exit status on `--timeout`.
pub const STATUS_TIMEOUT: i32 = 124;
/// Runner exit status when QEMU could not be started.
pub const STATUS_QEMU_FAILED: i32 = 125;

/// One machine configuration and what to boot on it.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cores: u32,
    pub nodes: u32,
    /// Total memory in MiB (split evenly across nodes).
    pub mem_mib: u32,
    pub kernel: PathBuf,
    pub append: String,
    pub timeout: Option<Duration>,
    /// cpio archive passed as the PVH module (the root file system).
    pub initrd: Option<PathBuf>,
    /// Kernel log arrives on the control port; forward it to stderr.
    pub quiet: bool,
    /// Typed input (with capture only): each step waits until the console
    /// output, after the previous step's match, contains the marker, then
    /// sends the bytes to the serial console.
    pub input: Vec<(String, Vec<u8>)>,
    /// With `echo`, also print the kernel log (from the control port) at
    /// the end; `false` leaves it to the caller (`Outcome::log`).
    pub echo_log: bool,
    /// Serve QEMU's monitor on this Unix socket (else no monitor).
    pub monitor: Option<PathBuf>,
}

impl Machine {
    pub fn new(kernel: PathBuf, cores: u32, nodes: u32) -> Self {
        Machine {
            cores,
            nodes,
            mem_mib: 512 * nodes,
            kernel,
            append: String::new(),
            timeout: None,
            initrd: None,
            quiet: false,
            input: Vec::new(),
            echo_log: true,
            monitor: None,
        }
    }

    fn args(&self, control: &Path) -> Result<Vec<String>, String> {
        if self.nodes == 0 || self.cores == 0 || self.cores % self.nodes != 0 {
            return Err(format!(
                "--cores ({}) must be a positive multiple of --nodes ({})",
                self.cores, self.nodes
            ));
        }
        if self.mem_mib % self.nodes != 0 {
            return Err(format!(
                "--mem ({}) must split evenly over {} nodes",
                self.mem_mib, self.nodes
            ));
        }
        let mut a: Vec<String> = [
            "-machine",
            "q35,accel=tcg",
            "-cpu",
            "max",
            "-no-reboot",
            "-display",
            "none",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-serial",
            "stdio",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push("-monitor".into());
        a.push(match &self.monitor {
            Some(p) => format!("unix:{},server,nowait", p.display()),
            None => "none".into(),
        });
        a.push("-serial".into());
        a.push(format!("file:{}", control.display()));
        a.push("-smp".into());
        a.push(format!(
            "{},sockets={},cores={},threads=1",
            self.cores,
            self.nodes,
            self.cores / self.nodes
        ));
        a.push("-m".into());
        a.push(format!("{}M", self.mem_mib));
        if self.nodes > 1 {
            let per = self.mem_mib / self.nodes;
            for n in 0..self.nodes {
                a.push("-object".into());
                a.push(format!("memory-backend-ram,id=m{n},size={per}M"));
                a.push("-numa".into());
                a.push(format!("node,memdev=m{n},nodeid={n}"));
            }
            for n in 0..self.nodes {
                a.push("-numa".into());
                a.push(format!("cpu,node-id={n},socket-id={n}"));
            }
        }
        a.push("-kernel".into());
        a.push(self.kernel.display().to_string());
        if let Some(i) = &self.initrd {
            a.push("-initrd".into());
            a.push(i.display().to_string());
        }
        a.push("-append".into());
        a.push(self.append.clone());
        Ok(a)
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The runner's exit status (see the `STATUS_*` constants).
    pub status: i32,
    /// Everything the console printed (when captured).
    pub output: String,
    /// The kernel log from the control port (with `quiet`).
    pub log: String,
    pub elapsed: Duration,
}

/// Make sure `qemu-system-x86_64` exists, installing it with apt when we
/// are root; otherwise explain how.
pub fn ensure_qemu() -> Result<(), String> {
    if which("qemu-system-x86_64") {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    if is_root && which("apt-get") {
        eprintln!(
            "xtask: qemu-system-x86_64 not found; installing package qemu-system-x86 with apt-get"
        );
        let ok = Command::new("sh")
            .args(["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-x86"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok && which("qemu-system-x86_64") {
            return Ok(());
        }
    }
    Err("qemu-system-x86_64 is not installed. Install it with:\n    sudo apt-get update && sudo apt-get install -y qemu-system-x86".into())
}

fn which(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// Boot `m`. With `capture`, the console output is collected (and also
/// echoed when `echo` is set); otherwise QEMU shares our terminal.
pub fn run(m: &Machine, capture: bool, echo: bool) -> Outcome {
    let start = Instant::now();
    let control = std::env::temp_dir().join(format!(
        "nros-ctl-{}-{}.txt",
        std::process::id(),
        CONTROL_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&control);
    let args = match m.args(&control) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("xtask: {e}");
            return Outcome {
                status: 2,
                output: String::new(),
                log: String::new(),
                elapsed: start.elapsed(),
            };
        }
    };
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(&args);
    if capture {
        let stdin = if m.input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        };
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xtask: cannot start qemu-system-x86_64: {e}");
            return Outcome {
                status: STATUS_QEMU_FAILED,
                output: String::new(),
                log: String::new(),
                elapsed: start.elapsed(),
            };
        }
    };
    // Output so far, for the typist.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let reader = child.stdout.take().map(|mut out| {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if echo {
                            let mut so = std::io::stdout().lock();
                            let _ = so.write_all(&buf[..n]);
                            let _ = so.flush();
                        }
                        all.extend_from_slice(&buf[..n]);
                        if let Ok(mut s) = seen.lock() {
                            s.extend_from_slice(&buf[..n]);
                        }
                    }
                }
            }
            all
        })
    });
    if let Some(mut stdin) = child.stdin.take() {
        let steps = m.input.clone();
        let seen = seen.clone();
        let deadline = m.timeout.map(|t| start + t);
        std::thread::spawn(move || {
            let mut from = 0;
            for (marker, bytes) in steps {
                loop {
                    let found = seen.lock().ok().and_then(|s| {
                        let hay = &s[from.min(s.len())..];
                        hay.windows(marker.len().max(1))
                            .position(|w| w == marker.as_bytes())
                            .map(|p| from + p + marker.len())
                    });
                    if let Some(end) = found {
                        from = end;
                        break;
                    }
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                // Let the program get to its read before typing.
                std::thread::sleep(Duration::from_millis(100));
                if stdin.write_all(&bytes).and_then(|_| stdin.flush()).is_err() {
                    return;
                }
            }
        });
    }
    let err_reader = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = e.read_to_string(&mut s);
            s
        })
    });
    let mut timed_out = false;
    let exit = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st.code(),
            Ok(None) => {}
            Err(_) => break None,
        }
        if m.timeout.is_some_and(|t| start.elapsed() > t) {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = reader
        .map(|h| String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned())
        .unwrap_or_default();
    if let Some(h) = err_reader {
        let e = h.join().unwrap_or_default();
        if !e.trim().is_empty() {
            output.push_str(&e);
            if echo {
                eprint!("{e}");
            }
        }
    }
    let ctl = String::from_utf8_lossy(&std::fs::read(&control).unwrap_or_default()).into_owned();
    let _ = std::fs::remove_file(&control);
    // The kernel log, when it went to the control port (--quiet).
    let log: String = ctl
        .lines()
        .filter_map(|l| l.strip_prefix("log "))
        .map(|l| format!("{l}\n"))
        .collect();
    if !log.is_empty() && echo && m.echo_log {
        eprint!("{log}");
    }
    let status = if timed_out {
        eprintln!(
            "xtask: timeout: QEMU killed after {} s",
            m.timeout.map_or(0, |t| t.as_secs())
        );
        STATUS_TIMEOUT
    } else {
        status_from(exit, &ctl)
    };
    Outcome {
        status,
        output,
        log,
        elapsed: start.elapsed(),
    }
}

static CONTROL_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Map QEMU's exit code and the control-channel message to our status.
fn status_from(qemu_exit: Option<i32>, control: &str) -> i32 {
    let reported = control
        .lines()
        .filter(|l| !l.starts_with("log "))
        .rev()
        .find_map(|l| {
            if l.trim() == "panic" {
                Some(STATUS_KERNEL_PANIC)
            } else {
                l.trim()
                    .strip_prefix("exit ")
                    .and_then(|v| v.trim().parse::<i32>().ok())
            }
        });
    match (qemu_exit, reported) {
        (Some(255), _) => STATUS_KERNEL_PANIC,
        (Some(1), Some(s)) => s,
        (Some(1), None) => STATUS_NO_STATUS,
        (Some(0), _) => {
            eprintln!("xtask: the machine reset without reporting a status (triple fault?)");
            STATUS_NO_STATUS
        }
        (other, _) => {
            eprintln!("xtask: QEMU ended unexpectedly ({other:?})");
            STATUS_QEMU_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        assert_eq!(status_from(Some(1), "exit 0\n"), 0);
        assert_eq!(status_from(Some(1), "exit 137\n"), 137);
        assert_eq!(status_from(Some(255), "panic\n"), STATUS_KERNEL_PANIC);
        assert_eq!(status_from(Some(1), ""), STATUS_NO_STATUS);
        assert_eq!(status_from(Some(0), ""), STATUS_NO_STATUS);
    }

    #[test]
    fn numa_arguments() {
        let m = Machine::new(PathBuf::from("k"), 4, 2);
        let a = m.args(Path::new("/tmp/c")).unwrap().join(" ");
        assert!(a.contains("-smp 4,sockets=2,cores=2,threads=1"));
        assert!(a.contains("memory-backend-ram,id=m1,size=512M"));
        assert!(a.contains("-numa cpu,node-id=1,socket-id=1"));
        assert!(Machine::new(PathBuf::from("k"), 3, 2)
            .args(Path::new("/tmp/c"))
            .is_err());
    }
}

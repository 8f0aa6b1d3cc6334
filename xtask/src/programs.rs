//! User-program tests: static Linux binaries built from `tests/programs`
//! (and `tests/nros`) with musl, glibc and Rust, run on our kernel in QEMU
//! and — for differential tests — on the host's Linux, comparing stdout byte
//! for byte and the exit status.

use crate::qemu::{self, Machine};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How a test program is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// `musl-gcc -static`.
    Musl,
    /// musl, static position-independent executable (ET_DYN).
    MuslPie,
    /// `gcc -static` (glibc).
    Glibc,
    /// `gcc -static-pie` (glibc, ET_DYN).
    GlibcPie,
    /// `rustc -C target-feature=+crt-static` (Rust std on static glibc).
    Rust,
}

impl Toolchain {
    fn tag(self) -> &'static str {
        match self {
            Toolchain::Musl => "musl",
            Toolchain::MuslPie => "musl-pie",
            Toolchain::Glibc => "glibc",
            Toolchain::GlibcPie => "glibc-pie",
            Toolchain::Rust => "rust",
        }
    }
}

fn gcc_file(name: &str) -> String {
    Command::new("gcc")
        .arg(format!("-print-file-name={name}"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Compile `src` (relative to the repository root) with `tc`; returns the
/// binary (cached under `target/programs` while the source is unchanged).
pub fn build(src: &str, tc: Toolchain) -> Result<PathBuf, String> {
    let root = crate::root();
    let src_path = root.join(src);
    let stem = Path::new(src)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("prog")
        .to_string();
    let stem = if stem == "main" {
        Path::new(src)
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or("prog")
            .to_string()
    } else {
        stem
    };
    // One folder per toolchain, so the binary has the same name as in the
    // guest (programs may print their own name).
    let dir = crate::target_dir().join("programs").join(tc.tag());
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = dir.join(&stem);
    let newer = |a: &Path, b: &Path| {
        let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        matches!((m(a), m(b)), (Some(x), Some(y)) if x >= y)
    };
    if newer(&out, &src_path) {
        return Ok(out);
    }
    let o = out.display().to_string();
    let s = src_path.display().to_string();
    let mut cmd = match tc {
        Toolchain::Musl => {
            let mut c = Command::new("musl-gcc");
            c.args(["-static", "-O2", "-o", &o, &s]);
            c
        }
        Toolchain::MuslPie => {
            // Debian's musl-gcc ignores -static-pie; link by hand.
            let m = "/usr/lib/x86_64-linux-musl";
            let mut c = Command::new("musl-gcc");
            c.args([
                "-O2",
                "-fPIE",
                "-nostartfiles",
                "-Wl,-static,-pie,--no-dynamic-linker,-z,text",
            ]);
            c.args([
                format!("{m}/rcrt1.o"),
                format!("{m}/crti.o"),
                gcc_file("crtbeginS.o"),
            ]);
            c.args(["-o", &o, &s]);
            c.args([gcc_file("crtendS.o"), format!("{m}/crtn.o")]);
            c
        }
        Toolchain::Glibc => {
            let mut c = Command::new("gcc");
            c.args(["-static", "-O2", "-o", &o, &s]);
            c
        }
        Toolchain::GlibcPie => {
            let mut c = Command::new("gcc");
            c.args(["-static-pie", "-fPIE", "-O2", "-o", &o, &s]);
            c
        }
        Toolchain::Rust => {
            let mut c = Command::new("rustc");
            c.args([
                "--edition",
                "2021",
                "-O",
                "-C",
                "target-feature=+crt-static",
                "-o",
                &o,
                &s,
            ]);
            c
        }
    };
    let res = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{src}: cannot run the {} compiler: {e}", tc.tag()))?;
    if !res.status.success() {
        return Err(format!(
            "{src} ({}): build failed:\n{}",
            tc.tag(),
            String::from_utf8_lossy(&res.stderr)
        ));
    }
    Ok(out)
}

/// What a test checks.
#[derive(Clone, Copy)]
pub enum Expect {
    /// Same stdout and status as on the host.
    Host,
    /// This status, and stdout passes the check.
    Guest(i32, fn(&str) -> Result<(), String>),
}

/// One user-program test.
#[derive(Clone)]
pub struct UserCase {
    /// Display name.
    pub name: String,
    /// `(host binary, guest path)`.
    pub files: Vec<(PathBuf, String)>,
    /// Arguments of process 1 (argv[0] is the guest path).
    pub argv: Vec<String>,
    /// How to judge it.
    pub expect: Expect,
    /// Why the program could not be built (the case fails with it).
    pub build_error: Option<String>,
}

/// Environment of process 1 in the guest (see `kernel/src/init.rs`); the
/// host run uses the same.
const ENV: [(&str, &str); 3] = [
    ("PATH", "/bin:/sbin:/usr/bin:/usr/sbin"),
    ("HOME", "/"),
    ("TERM", "vt100"),
];

/// Run on the host: (stdout, shell-style status).
fn run_host(c: &UserCase) -> Result<(Vec<u8>, i32), String> {
    // argv[0] names the guest path; on the host run the matching file, or
    // the host's own program (e.g. /bin/busybox applets).
    let prog = c
        .files
        .iter()
        .find(|(_, g)| *g == c.argv[0])
        .map(|(h, _)| h.clone())
        .unwrap_or_else(|| PathBuf::from(&c.argv[0]));
    let mut cmd = Command::new(&prog);
    cmd.arg0(&c.argv[0])
        .args(&c.argv[1..])
        .env_clear()
        .envs(ENV)
        .current_dir("/")
        .stdin(Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| format!("host run of {}: {e}", prog.display()))?;
    let status = match (out.status.code(), out.status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => -1,
    };
    Ok((out.stdout, status))
}

use std::os::unix::process::CommandExt;

/// Run `c` on the kernel (and the host) and judge it.
pub fn run_case(c: &UserCase, kernel: &Path, cores: u32, nodes: u32) -> Result<(), String> {
    if let Some(e) = &c.build_error {
        return Err(e.clone());
    }
    let spec = crate::initrd::Spec {
        adds: c.files.clone(),
        cmd: c.argv.clone(),
        busybox: true,
    };
    let initrd = crate::initrd::write(&spec, "test")?;
    let mut m = Machine::new(kernel.to_path_buf(), cores, nodes);
    m.append = "quiet console.onlcr=0".into();
    m.initrd = Some(initrd.clone());
    m.quiet = true;
    m.timeout = Some(Duration::from_secs(120));
    let out = qemu::run(&m, true, false);
    let _ = std::fs::remove_file(&initrd);
    let guest = out.output.clone();
    match c.expect {
        Expect::Host => {
            let (host_out, host_status) = run_host(c)?;
            let host = String::from_utf8_lossy(&host_out).into_owned();
            if out.status != host_status {
                return Err(format!(
                    "exit status {} on NrOS, {} on Linux\n{}",
                    out.status,
                    host_status,
                    excerpt(&guest)
                ));
            }
            if guest != host {
                return Err(format!(
                    "output differs from Linux:\n{}",
                    diff(&host, &guest)
                ));
            }
            Ok(())
        }
        Expect::Guest(status, check) => {
            if out.status != status {
                return Err(format!(
                    "exit status {}, expected {status}\n{}",
                    out.status,
                    excerpt(&guest)
                ));
            }
            check(&guest)
        }
    }
}

fn excerpt(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.len().saturating_sub(30);
    format!(
        "---- output (last lines) ----\n{}\n----",
        lines[start..].join("\n")
    )
}

fn diff(host: &str, guest: &str) -> String {
    let (h, g): (Vec<&str>, Vec<&str>) = (host.lines().collect(), guest.lines().collect());
    let first = h
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(h.len().min(g.len()));
    let mut out = format!(
        "first difference at line {} (Linux {} lines, NrOS {} lines)\n",
        first + 1,
        h.len(),
        g.len()
    );
    for i in first.saturating_sub(2)..(first + 5) {
        if let Some(l) = h.get(i) {
            out.push_str(&format!("  linux {:>4}: {l}\n", i + 1));
        }
        if let Some(l) = g.get(i) {
            out.push_str(&format!("  nros  {:>4}: {l}\n", i + 1));
        }
    }
    out
}

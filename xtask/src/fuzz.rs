//! `cargo xtask fuzz`: the system-call fuzzer (`tests/fuzz/fuzz.c`) on
//! our kernel in QEMU.
//!
//! Builds the fuzzer with musl, boots the kernel with it as process 1 and
//! judges the run. The fuzzer itself measures MemFree (`/proc/meminfo`)
//! before starting its workers and after reaping every process and removing
//! every file, and reads `/proc/nr/replicas` at the end. A run fails when
//! the kernel panicked (status 222), hung (QEMU timeout), process 1 did not
//! exit normally, free memory did not return to its starting value, or the
//! replica hashes differ. Console output and kernel log are kept under
//! `target/fuzz/seed-<S>/`; the seed is printed so that any failure is
//! reproducible (`-window`/`-only` of the fuzzer help to minimise one, see
//! the top of `tests/fuzz/fuzz.c`).

use crate::programs::{self, Toolchain};
use crate::qemu::{self, Machine, STATUS_KERNEL_PANIC, STATUS_TIMEOUT};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const USAGE: &str = "\
usage: cargo xtask fuzz [options]

  --seed S         first seed (default: from the clock; always printed)
  --runs K         run seeds S, S+1, ..., S+K-1 (default 1)
  --calls N        system calls in total, over all workers (default 20000)
  --cores C        cores (default 4)
  --nodes M        NUMA nodes (default 2)
  --workers W      worker processes (default: one per core)
  --threads T      threads per worker (default 2)
  --timeout SECS   QEMU timeout (default: 120 + calls/100)
  --avoid LIST     steer around known kernel bugs (fuzz.c -a): hugelen,tkill0,execbig,madvhuge
  --only LIST      only these syscall numbers (fuzz.c -only)
  --verbose        the fuzzer prints every call (to the console)
  --release        optimised kernel
  --host           run the fuzzer on the host's Linux instead (in /tmp)

A run fails on a kernel panic, a hang (timeout), process 1 not exiting
normally, free memory not returning to its starting value, or replica
hashes that differ. Output and kernel log: target/fuzz/seed-<S>/.";

#[derive(Debug)]
struct Options {
    seed: u64,
    runs: u64,
    calls: u64,
    cores: u32,
    nodes: u32,
    workers: Option<u32>,
    threads: u32,
    timeout: Option<u64>,
    avoid: Option<String>,
    only: Option<String>,
    verbose: bool,
    release: bool,
    host: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() % 1_000_000)
        .unwrap_or(1);
    let mut o = Options {
        seed: clock,
        runs: 1,
        calls: 20000,
        cores: 4,
        nodes: 2,
        workers: None,
        threads: 2,
        timeout: None,
        avoid: None,
        only: None,
        verbose: false,
        release: false,
        host: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        let num = |s: String| {
            s.parse::<u64>()
                .map_err(|_| format!("{a}: `{s}` is not a number"))
        };
        match a.as_str() {
            "--seed" => o.seed = num(val()?)?,
            "--runs" => o.runs = num(val()?)?.max(1),
            "--calls" => o.calls = num(val()?)?,
            "--cores" => o.cores = num(val()?)? as u32,
            "--nodes" => o.nodes = num(val()?)? as u32,
            "--workers" => o.workers = Some(num(val()?)? as u32),
            "--threads" => o.threads = num(val()?)? as u32,
            "--timeout" => o.timeout = Some(num(val()?)?),
            "--avoid" => o.avoid = Some(val()?),
            "--only" => o.only = Some(val()?),
            "--verbose" => o.verbose = true,
            "--release" => o.release = true,
            "--host" => o.host = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    if o.cores == 0 || o.nodes == 0 || o.cores % o.nodes != 0 {
        return Err(format!(
            "--cores ({}) must be a positive multiple of --nodes ({})",
            o.cores, o.nodes
        ));
    }
    Ok(o)
}

/// Arguments of the fuzzer for one seed.
fn fuzz_args(o: &Options, seed: u64) -> Vec<String> {
    let mut v = vec![
        seed.to_string(),
        o.calls.to_string(),
        o.workers.unwrap_or(o.cores).to_string(),
        o.threads.to_string(),
    ];
    if o.verbose {
        v.push("-v".into());
    }
    if let Some(a) = &o.avoid {
        v.push("-a".into());
        v.push(a.clone());
    }
    if let Some(l) = &o.only {
        v.push("-only".into());
        v.push(l.clone());
    }
    v
}

pub fn run(args: &[String]) -> i32 {
    let o = match crate::options_or_usage("fuzz", USAGE, parse(args)) {
        Ok(o) => o,
        Err(status) => return status,
    };
    let bin = match programs::build("tests/fuzz/fuzz.c", Toolchain::Musl) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("xtask fuzz: {e}");
            return 1;
        }
    };
    if o.host {
        return run_host(&o, &bin);
    }
    if let Err(e) = qemu::ensure_qemu() {
        eprintln!("xtask: {e}");
        return 2;
    }
    let kernel = match crate::build_kernel(o.release) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("xtask: {e}");
            return 1;
        }
    };
    let mut failed = Vec::new();
    for seed in o.seed..o.seed + o.runs {
        match run_seed(&o, seed, &bin, &kernel) {
            Ok(()) => {}
            Err(e) => failed.push((seed, e)),
        }
    }
    if o.runs > 1 {
        eprintln!("\nxtask fuzz: {} of {} seeds failed", failed.len(), o.runs);
        for (s, e) in &failed {
            eprintln!("  seed {s}: {e}");
        }
    }
    i32::from(!failed.is_empty())
}

fn repro_cmd(o: &Options, seed: u64) -> String {
    let mut s = format!(
        "cargo xtask fuzz --seed {seed} --calls {} --cores {} --nodes {}",
        o.calls, o.cores, o.nodes
    );
    if let Some(w) = o.workers {
        s += &format!(" --workers {w}");
    }
    if o.threads != 2 {
        s += &format!(" --threads {}", o.threads);
    }
    if let Some(a) = &o.avoid {
        s += &format!(" --avoid {a}");
    }
    if let Some(l) = &o.only {
        s += &format!(" --only {l}");
    }
    if o.release {
        s += " --release";
    }
    s
}

fn run_seed(o: &Options, seed: u64, bin: &Path, kernel: &Path) -> Result<(), String> {
    let args = fuzz_args(o, seed);
    let mut cmd = vec!["/bin/fuzz".to_string()];
    cmd.extend(args.iter().cloned());
    eprintln!(
        "\n==> fuzz seed {seed}: {} calls, {} workers x {} threads, {} cores / {} nodes{}",
        o.calls,
        o.workers.unwrap_or(o.cores),
        o.threads,
        o.cores,
        o.nodes,
        o.avoid
            .as_ref()
            .map(|a| format!(", avoiding {a}"))
            .unwrap_or_default()
    );
    eprintln!("    reproduce: {}", repro_cmd(o, seed));
    let spec = crate::initrd::Spec {
        adds: vec![(bin.to_path_buf(), "/bin/fuzz".into())],
        cmd,
        busybox: true,
    };
    let initrd = crate::initrd::write(&spec, &format!("fuzz-{seed}"))?;
    let mut m = Machine::new(kernel.to_path_buf(), o.cores, o.nodes);
    m.append = "quiet console.onlcr=0".into();
    m.initrd = Some(initrd.clone());
    m.quiet = true;
    m.echo_log = false;
    let timeout = o.timeout.unwrap_or(120 + o.calls / 100);
    m.timeout = Some(Duration::from_secs(timeout));
    // The console (progress, summary) is shown as it comes; the kernel log
    // is saved and only its relevant part shown.
    let out = qemu::run(&m, true, true);
    let _ = std::fs::remove_file(&initrd);
    let dir = crate::target_dir()
        .join("fuzz")
        .join(format!("seed-{seed}"));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("console.txt"), &out.output);
    let _ = std::fs::write(dir.join("kernel.log"), &out.log);
    let verdict = judge(out.status, &out.output);
    let secs = out.elapsed.as_secs_f64();
    match &verdict {
        Ok(()) => eprintln!("==> fuzz seed {seed}: ok in {secs:.1} s"),
        Err(e) => {
            eprintln!("==> fuzz seed {seed}: FAILED in {secs:.1} s: {e}");
            if out.status == STATUS_KERNEL_PANIC {
                if let Some(report) = panic_report(&out.output, kernel) {
                    eprintln!("---- kernel panic report (symbolised) ----\n{report}----");
                }
            }
            let interesting: Vec<&str> = out
                .log
                .lines()
                .filter(|l| !l.contains("unimplemented system call"))
                .collect();
            let start = interesting.len().saturating_sub(15);
            eprintln!(
                "---- kernel log (last lines; all of it in {}) ----",
                dir.join("kernel.log").display()
            );
            for l in &interesting[start..] {
                eprintln!("{l}");
            }
            eprintln!("----\n    reproduce: {}", repro_cmd(o, seed));
        }
    }
    verdict
}

/// What the run means.
fn judge(status: i32, out: &str) -> Result<(), String> {
    match status {
        STATUS_KERNEL_PANIC => return Err("kernel panic (status 222)".into()),
        STATUS_TIMEOUT => return Err("hang: QEMU timeout".into()),
        0 => {}
        s => {
            let why: Vec<&str> = out
                .lines()
                .filter(|l| l.starts_with("fuzz: FAILED") || l.contains("STUCK"))
                .collect();
            return Err(format!(
                "process 1 did not exit normally (status {s}{}){}",
                if s > 128 && s < 160 {
                    format!(" = signal {}", s - 128)
                } else {
                    String::new()
                },
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {}", why.join("; "))
                }
            ));
        }
    }
    if !out.lines().any(|l| l == "fuzz done") {
        return Err("no `fuzz done` line".into());
    }
    let mem = out
        .lines()
        .find(|l| l.starts_with("fuzz: MemFree before") && l.contains(" after "))
        .ok_or("no MemFree line")?;
    if !mem.ends_with(": ok") {
        return Err(format!("free memory did not return: {mem}"));
    }
    if !out
        .lines()
        .any(|l| l.starts_with("replicas: ") && l.ends_with(" equal"))
    {
        return Err("replica hashes differ (or /proc/nr/replicas unreadable)".into());
    }
    Ok(())
}

/// The panic report from the console with its stack trace symbolised.
fn panic_report(out: &str, kernel: &Path) -> Option<String> {
    let at = out.find("!!! ")?;
    let lines: Vec<&str> = out[at..].lines().take(40).collect();
    let mut rep = String::new();
    for l in lines {
        let t = l.trim();
        if t.starts_with("0x") {
            let sym = symbolise(kernel, t).unwrap_or_default();
            rep.push_str(&format!("{l}  {sym}\n"));
        } else if t.starts_with("[") {
            break; // the kernel log resumes
        } else {
            rep.push_str(l);
            rep.push('\n');
        }
    }
    Some(rep)
}

fn symbolise(kernel: &Path, addr: &str) -> Option<String> {
    let o = Command::new("addr2line")
        .arg("-f")
        .arg("-C")
        .arg("-e")
        .arg(kernel)
        .arg(addr)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&o.stdout);
    let mut it = s.lines();
    let func = it.next()?.to_string();
    let loc = it
        .next()
        .unwrap_or("")
        .rsplit_once("/src/")
        .map(|(_, f)| format!("src/{f}"))
        .unwrap_or_default();
    Some(format!("{func} {loc}"))
}

/// The fuzzer on the host's Linux: it must finish without failing and
/// without harming the host (see the top of `tests/fuzz/fuzz.c`).
fn run_host(o: &Options, bin: &Path) -> i32 {
    let mut failed = 0;
    for seed in o.seed..o.seed + o.runs {
        let args = fuzz_args(o, seed);
        eprintln!("\n==> fuzz on the host, seed {seed}: {}", args.join(" "));
        let t = Instant::now();
        let mut child = match Command::new(bin)
            .args(&args)
            .current_dir("/tmp")
            .stdin(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("xtask fuzz: cannot run {}: {e}", bin.display());
                return 1;
            }
        };
        let limit = Duration::from_secs(o.timeout.unwrap_or(120 + o.calls / 100));
        let status = loop {
            if let Ok(Some(st)) = child.try_wait() {
                break Some(st);
            }
            if t.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        match status {
            Some(st) if st.success() => eprintln!(
                "==> host seed {seed}: ok in {:.1} s",
                t.elapsed().as_secs_f64()
            ),
            Some(st) => {
                eprintln!("==> host seed {seed}: FAILED ({st})");
                failed += 1;
            }
            None => {
                eprintln!("==> host seed {seed}: FAILED (timeout)");
                failed += 1;
            }
        }
    }
    i32::from(failed != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judging() {
        let good = "fuzz: MemFree before 10 kB after 10 kB: ok\nreplicas: 2 equal\nfuzz done\n";
        assert!(judge(0, good).is_ok());
        assert!(judge(222, good).unwrap_err().contains("panic"));
        assert!(judge(124, good).unwrap_err().contains("hang"));
        assert!(judge(140, "fuzz: FAILED: x\n")
            .unwrap_err()
            .contains("signal 12"));
        assert!(judge(
            0,
            "fuzz: MemFree before 10 kB after 6 kB: LEAK of 4 kB\nreplicas: 2 equal\nfuzz done\n"
        )
        .is_err());
        assert!(judge(
            0,
            "fuzz: MemFree before 10 kB after 10 kB: ok\nreplicas: DIFFER\nfuzz done\n"
        )
        .is_err());
    }

    #[test]
    fn options() {
        let o = parse(&[
            "--seed".into(),
            "7".into(),
            "--calls".into(),
            "100".into(),
            "--avoid".into(),
            "hugelen".into(),
        ])
        .unwrap();
        assert_eq!(fuzz_args(&o, 7), ["7", "100", "4", "2", "-a", "hugelen"]);
        assert!(parse(&["--cores".into(), "3".into()]).is_err());
    }
}

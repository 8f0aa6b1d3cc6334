//! `cargo xtask bench`: the paper's microbenchmarks, run side by side on our
//! kernel and on Debian's stock Linux kernel in identical QEMU machines.
//!
//! One static benchmark program (`bench/*.c`, built with `musl-gcc`) runs
//! every selected benchmark in one boot and prints one `RESULT` (or
//! `UNSUPPORTED` / `FAILED`) line per benchmark on the serial console. Our
//! kernel runs it as process 1; Linux runs it from a busybox `/init` in a
//! generated initramfs. The QEMU command line is the one `qemu::Machine`
//! builds for our kernel (same machine, CPU, cores, NUMA nodes, memory and
//! devices); only `-kernel`, `-initrd` and `-append` differ.

use crate::initrd;
use crate::qemu::{self, Machine};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The benchmarks, in the order the program runs them: (name, what one
/// operation is). Must match `bench/*.c`.
const BENCHES: &[(&str, &str)] = &[
    ("DRBL", "read a 4 KiB block of a private file"),
    ("DRBH", "read the same 4 KiB block of one shared file"),
    ("DWOL", "overwrite a 4 KiB block of a private file"),
    ("DWOM", "overwrite a private 4 KiB block of a shared file"),
    ("MWCL", "create + unlink a file in a private directory"),
    ("MWRL", "rename a file in a private directory"),
    ("MWRM", "rename a file into one shared directory (and back)"),
    (
        "vmops",
        "map + touch + unmap a 4 KiB anonymous page, one shared address space",
    ),
    ("getppid", "null system call (getppid)"),
    ("forkexec", "fork + exec + wait"),
];

/// Benchmarks that may report "unsupported" on our kernel in the smoke run
/// even with one thread (a feature still missing). fork/exec/wait exists
/// in the lead's tree now; empty this list once it is committed, so the
/// smoke run requires its number too. Multi-threaded runs (cores > 1) are
/// always allowed to be unsupported until threads exist.
const NROS_MAY_BE_UNSUPPORTED: &[&str] = &["forkexec"];

/// Latency fields of `vmops` (ns), in CSV order.
const LATENCY_KEYS: &[&str] = &["map_p50_ns", "map_p99_ns", "unmap_p50_ns", "unmap_p99_ns"];

const USAGE: &str = "\
usage: cargo xtask bench [options]       NrOS vs. Linux in identical QEMU machines
       cargo xtask bench nr [options]    node replication vs. the reference crate

options:
  --smoke              every benchmark once, 50 ms, 1 core / 1 node, both systems;
                       checks that each produced a number (output in target/bench-smoke)
  --cores LIST         cores, e.g. 1,2,4 (default 1,2,4)
  --nodes LIST         NUMA nodes, e.g. 1,2 (default 1,2; configurations where
                       cores is not a multiple of nodes are skipped)
  --repeats N          boots per system and configuration, alternating (default 5)
  --duration-ms D      length of each benchmark in each boot (default 1000)
  --only NAME,...      only these benchmarks (DRBL DRBH DWOL DWOM MWCL MWRL MWRM
                       vmops getppid forkexec)
  --systems LIST       nros,linux (default both)
  --out DIR            results folder (default results/bench)
  --isolate            boot once per benchmark (default: one boot runs all the
                       selected benchmarks in turn)
  --verbose            echo the guests' consoles";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum System {
    Nros,
    Linux,
}

impl System {
    fn id(self) -> &'static str {
        match self {
            System::Nros => "nros",
            System::Linux => "linux",
        }
    }
    fn label(self) -> &'static str {
        match self {
            System::Nros => "NrOS",
            System::Linux => "Linux",
        }
    }
}

#[derive(Clone, Debug)]
struct Options {
    smoke: bool,
    cores: Vec<u32>,
    nodes: Vec<u32>,
    repeats: u32,
    duration_ms: u64,
    only: Vec<&'static str>,
    systems: Vec<System>,
    out: PathBuf,
    verbose: bool,
    /// One boot per benchmark instead of one per run.
    isolate: bool,
    /// `--profile N`: sample the kernel N times instead of measuring.
    profile: usize,
    /// QEMU monitor socket for the profiler.
    monitor: Option<PathBuf>,
}

fn parse_list(s: &str, name: &str) -> Result<Vec<u32>, String> {
    s.split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            x.trim()
                .parse::<u32>()
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| format!("{name}: `{x}` is not a positive number"))
        })
        .collect()
}

/// A positive number given to option `name`.
fn positive<T: std::str::FromStr + PartialOrd + Default>(s: &str, name: &str) -> Result<T, String> {
    s.trim()
        .parse::<T>()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| format!("{name}: need a positive number"))
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        smoke: false,
        cores: vec![],
        nodes: vec![],
        repeats: 0,
        duration_ms: 0,
        only: BENCHES.iter().map(|b| b.0).collect(),
        systems: vec![System::Nros, System::Linux],
        out: PathBuf::new(),
        verbose: false,
        isolate: false,
        profile: 0,
        monitor: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--smoke" => o.smoke = true,
            "--verbose" | "-v" => o.verbose = true,
            "--isolate" => o.isolate = true,
            "--cores" => o.cores = parse_list(&val()?, a)?,
            "--nodes" => o.nodes = parse_list(&val()?, a)?,
            "--repeats" => o.repeats = positive(&val()?, a)?,
            "--duration-ms" => o.duration_ms = positive(&val()?, a)?,
            "--out" => o.out = PathBuf::from(val()?),
            "--profile" => o.profile = positive(&val()?, a)?,
            "--only" => {
                let mut only = Vec::new();
                for n in val()?.split(',').filter(|s| !s.is_empty()) {
                    let b = BENCHES
                        .iter()
                        .find(|b| b.0.eq_ignore_ascii_case(n.trim()))
                        .ok_or_else(|| format!("--only: unknown benchmark `{n}`"))?;
                    only.push(b.0);
                }
                // Keep the canonical order.
                o.only = BENCHES
                    .iter()
                    .map(|b| b.0)
                    .filter(|b| only.contains(b))
                    .collect();
            }
            "--systems" => {
                let mut s = Vec::new();
                for n in val()?.split(',') {
                    s.push(match n.trim() {
                        "nros" | "ours" => System::Nros,
                        "linux" => System::Linux,
                        other => {
                            return Err(format!(
                                "--systems: unknown system `{other}` (nros, linux)"
                            ))
                        }
                    });
                }
                s.sort();
                s.dedup();
                o.systems = s;
            }
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    let (c, n, r, d) = if o.smoke {
        (vec![1], vec![1], 1, 50)
    } else {
        (vec![1, 2, 4], vec![1, 2], 5, 1000)
    };
    if o.cores.is_empty() {
        o.cores = c;
    }
    if o.nodes.is_empty() {
        o.nodes = n;
    }
    if o.repeats == 0 {
        o.repeats = r;
    }
    if o.duration_ms == 0 {
        o.duration_ms = d;
    }
    if o.out.as_os_str().is_empty() {
        o.out = if o.smoke {
            crate::target_dir().join("bench-smoke")
        } else {
            crate::root().join("results").join("bench")
        };
    }
    if o.only.is_empty() || o.systems.is_empty() {
        return Err("nothing to run".into());
    }
    Ok(o)
}

/// `(cores, nodes)` pairs to run, in order.
fn configs(o: &Options) -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    for &c in &o.cores {
        for &n in &o.nodes {
            if c >= n && c % n == 0 && !v.contains(&(c, n)) {
                v.push((c, n));
            }
        }
    }
    v
}

// ---------------------------------------------------------------- results

/// What one benchmark produced in one boot.
#[derive(Clone, Debug)]
enum Outcome {
    Ok {
        ops_per_sec: f64,
        ops: u64,
        secs: f64,
        extra: BTreeMap<String, f64>,
    },
    Unsupported(String),
    Failed(String),
}

impl Outcome {
    fn kind(&self) -> &'static str {
        match self {
            Outcome::Ok { .. } => "ok",
            Outcome::Unsupported(_) => "unsupported",
            Outcome::Failed(_) => "failed",
        }
    }
}

#[derive(Clone, Debug)]
struct Sample {
    system: System,
    bench: &'static str,
    cores: u32,
    nodes: u32,
    run: u32,
    threads: u32,
    outcome: Outcome,
}

/// The benchmark program's lines in a console transcript: which benchmarks
/// started, and each one's outcome.
fn parse_output(text: &str) -> (Vec<String>, Vec<(String, Outcome)>) {
    let mut started = Vec::new();
    let mut done = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        // Markers may follow other bytes on the same line (kernel log).
        let find = |tag: &str| {
            line.find(&format!("{tag} name="))
                .map(|i| &line[i + tag.len() + 1..])
        };
        if let Some(rest) = find("START") {
            if let Some(n) = field(rest, "name") {
                started.push(n.to_string());
            }
        } else if let Some(rest) = find("RESULT") {
            let Some(name) = field(rest, "name") else {
                continue;
            };
            let num = |k: &str| field(rest, k).and_then(|v| v.parse::<f64>().ok());
            let (Some(ops_per_sec), Some(ops), Some(secs)) =
                (num("ops_per_sec"), num("ops"), num("secs"))
            else {
                done.push((
                    name.to_string(),
                    Outcome::Failed(format!("unparsable result line: {line}")),
                ));
                continue;
            };
            let extra = LATENCY_KEYS
                .iter()
                .filter_map(|k| num(k).map(|v| (k.to_string(), v)))
                .collect();
            done.push((
                name.to_string(),
                Outcome::Ok {
                    ops_per_sec,
                    ops: ops as u64,
                    secs,
                    extra,
                },
            ));
        } else if let Some(rest) = find("UNSUPPORTED") {
            if let Some(name) = field(rest, "name") {
                done.push((name.to_string(), Outcome::Unsupported(reason(rest))));
            }
        } else if let Some(rest) = find("FAILED") {
            if let Some(name) = field(rest, "name") {
                done.push((name.to_string(), Outcome::Failed(reason(rest))));
            }
        }
    }
    (started, done)
}

/// `key=value` (value up to the next space) in a marker line.
fn field<'a>(rest: &'a str, key: &str) -> Option<&'a str> {
    rest.split(' ')
        .find_map(|tok| tok.strip_prefix(key)?.strip_prefix('='))
}

/// The free text after ` reason=` (the last field).
fn reason(rest: &str) -> String {
    rest.find("reason=")
        .map(|i| rest[i + 7..].trim().to_string())
        .unwrap_or_else(|| "no reason given".into())
}

// ---------------------------------------------------------------- preparing

/// Downloads and build products shared by all runs (the Linux kernel, the
/// benchmark program): `target/bench-cache` of the workspace.
fn cache_dir() -> PathBuf {
    crate::root().join("target").join("bench-cache")
}

fn which(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Build `bench/*.c` into one static musl binary (cached while no source
/// changed).
fn build_program(cache: &Path) -> Result<PathBuf, String> {
    let src_dir = crate::root().join("bench");
    let mut srcs: Vec<PathBuf> = std::fs::read_dir(&src_dir)
        .map_err(|e| format!("{}: {e}", src_dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "c" || x == "h"))
        .collect();
    srcs.sort();
    let out = cache.join("bin").join("nrbench");
    let newest = srcs.iter().filter_map(|p| mtime(p)).max();
    if let (Some(b), Some(s)) = (mtime(&out), newest) {
        if b >= s {
            return Ok(out);
        }
    }
    if !which("musl-gcc") {
        return Err("musl-gcc not found: install it with `apt-get install -y musl-tools`".into());
    }
    std::fs::create_dir_all(out.parent().expect("bin dir")).map_err(|e| e.to_string())?;
    eprintln!("xtask bench: building bench/*.c -> {}", out.display());
    let st = Command::new("musl-gcc")
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(&out)
        .args(
            srcs.iter()
                .filter(|p| p.extension().is_some_and(|x| x == "c")),
        )
        .status()
        .map_err(|e| format!("cannot run musl-gcc: {e}"))?;
    if !st.success() {
        return Err("building the benchmark program failed".into());
    }
    Ok(out)
}

fn find_vmlinuz(dir: &Path) -> Option<PathBuf> {
    let boot = dir.join("boot");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&boot)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .collect();
    v.sort();
    v.pop()
}

fn sh(cmd: &str, cwd: &Path) -> Result<String, String> {
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(cwd)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "`{cmd}` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The package `linux-image-amd64` depends on, e.g. `linux-image-6.1.0-56-amd64`.
fn linux_package(cache: &Path) -> Result<String, String> {
    let find = || -> Option<String> {
        let out = sh("apt-cache depends linux-image-amd64", cache).ok()?;
        out.lines().find_map(|l| {
            let v = l.trim().strip_prefix("Depends:")?.trim();
            v.starts_with("linux-image-").then(|| v.to_string())
        })
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    eprintln!("xtask bench: apt-cache knows no linux-image-amd64; running apt-get update");
    sh("apt-get update -qq", cache)?;
    find().ok_or_else(|| "apt-cache depends linux-image-amd64 names no linux-image package".into())
}

/// Debian's stock kernel image for the Linux baseline: downloaded once with
/// `apt-get download` (never installed) and unpacked (only `boot/vmlinuz-*`)
/// into `target/bench-cache/linux`. Delete that folder to refresh it.
fn linux_kernel(cache: &Path) -> Result<PathBuf, String> {
    let dir = cache.join("linux");
    if let Some(k) = find_vmlinuz(&dir) {
        return Ok(k);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !which("apt-get") || !which("dpkg-deb") {
        return Err("the Linux baseline needs Debian's apt-get and dpkg-deb".into());
    }
    let pkg = linux_package(&dir)?;
    eprintln!(
        "xtask bench: downloading {pkg} (Debian's stock kernel, for the Linux baseline) into {}",
        dir.display()
    );
    let dl = format!("apt-get download -q {pkg}");
    if sh(&dl, &dir).is_err() {
        eprintln!("xtask bench: download failed; running apt-get update and retrying");
        sh("apt-get update -qq", &dir)?;
        sh(&dl, &dir)?;
    }
    let deb = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
        })
        .ok_or_else(|| format!("apt-get download {pkg} left no .deb in {}", dir.display()))?;
    eprintln!(
        "xtask bench: unpacking boot/vmlinuz-* from {}",
        deb.display()
    );
    sh(
        &format!(
            "dpkg-deb --fsys-tarfile '{}' | tar -xf - --wildcards './boot/vmlinuz-*'",
            deb.display()
        ),
        &dir,
    )?;
    std::fs::write(
        dir.join("PACKAGE"),
        format!(
            "{}\n",
            deb.file_name().and_then(|n| n.to_str()).unwrap_or(&pkg)
        ),
    )
    .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&deb);
    find_vmlinuz(&dir).ok_or_else(|| format!("{} has no boot/vmlinuz-*", deb.display()))
}

/// What every boot needs.
struct Env {
    nros: PathBuf,
    linux: Option<PathBuf>,
    program: PathBuf,
    work: PathBuf,
}

/// Linux's `/init`: mount the usual file systems, run the benchmark, report
/// its status on COM2 (`exit N`, as our kernel does) and stop QEMU through
/// `isa-debug-exit` by writing to port 0xf4 via `/dev/port`; `poweroff -f`
/// if that fails.
fn linux_init(args: &[String]) -> String {
    format!(
        "#!/bin/sh\n\
         export PATH=/bin\n\
         mkdir -p /proc /sys /dev /tmp\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sysfs /sys\n\
         mount -t devtmpfs devtmpfs /dev 2>/dev/null\n\
         mount -t tmpfs tmpfs /tmp\n\
         {}\n\
         st=$?\n\
         echo \"exit $st\" > /dev/ttyS1\n\
         printf '\\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null\n\
         poweroff -f\n",
        args.join(" ")
    )
}

fn describe_status(s: i32) -> String {
    match s {
        0 => "exit 0".into(),
        qemu::STATUS_TIMEOUT => "timeout".into(),
        qemu::STATUS_KERNEL_PANIC => "kernel panic or CPU exception".into(),
        qemu::STATUS_NO_STATUS => "machine stopped without a status".into(),
        qemu::STATUS_QEMU_FAILED => "QEMU failed".into(),
        n => format!("exit {n}"),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let v: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut s = v[v.len().saturating_sub(lines)..].join(" | ");
    if s.len() > 400 {
        let mut cut = s.len() - 400;
        while !s.is_char_boundary(cut) {
            cut += 1;
        }
        s = format!("...{}", &s[cut..]);
    }
    s
}

/// `--profile N`: one NrOS boot of the selected benchmarks in the first
/// configuration, sampled N times through QEMU's monitor (see `profile.rs`).
fn profile(env: &Env, o: &Options, (cores, nodes): (u32, u32)) -> i32 {
    let sock = env
        .work
        .join(format!("monitor-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let mut o2 = o.clone();
    // Long enough for the samples (each takes a few ms per vCPU).
    o2.duration_ms = o
        .duration_ms
        .max(o.profile as u64 * (30 + 10 * u64::from(cores)) + 5000);
    o2.monitor = Some(sock.clone());
    eprintln!(
        "xtask profile: {} on NrOS, {cores} core(s) / {nodes} node(s), {} samples",
        o.only.join(","),
        o.profile
    );
    let samples = o.profile;
    let s2 = sock.clone();
    let sampler = std::thread::spawn(move || {
        crate::profile::sample(&s2, samples, std::time::Duration::from_secs(3))
    });
    let out = boot(env, &o2, System::Nros, cores, nodes, &o.only);
    let stacks = sampler.join().unwrap_or_default();
    let _ = std::fs::remove_file(&sock);
    if let Err(e) = &out {
        eprintln!("xtask profile: {e}");
    }
    if stacks.is_empty() {
        eprintln!("xtask profile: no samples (did QEMU start?)");
        return 1;
    }
    println!("{}", crate::profile::report(&env.nros, &stacks, 30));
    0
}

/// One boot of `system` running `benches` with one thread per core.
fn boot(
    env: &Env,
    o: &Options,
    system: System,
    cores: u32,
    nodes: u32,
    benches: &[&'static str],
) -> Result<qemu::Outcome, String> {
    let args: Vec<String> = [
        "/bin/nrbench".to_string(),
        "--bench".into(),
        benches.join(","),
        "--threads".into(),
        cores.to_string(),
        "--duration-ms".into(),
        o.duration_ms.to_string(),
    ]
    .into();
    let program = (env.program.clone(), "/bin/nrbench".to_string());
    let (kernel, spec, append) = match system {
        System::Nros => {
            let spec = initrd::Spec {
                adds: vec![program],
                cmd: args,
                busybox: true,
            };
            (env.nros.clone(), spec, String::new())
        }
        System::Linux => {
            let init = env.work.join(format!("init-{}", std::process::id()));
            std::fs::write(&init, linux_init(&args))
                .map_err(|e| format!("{}: {e}", init.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
            let spec = initrd::Spec {
                adds: vec![program, (init, "/init".into())],
                cmd: vec![],
                busybox: true,
            };
            let k = env.linux.clone().ok_or("no Linux kernel")?;
            (k, spec, "console=ttyS0 quiet panic=-1".to_string())
        }
    };
    let rd = initrd::write(&spec, &format!("bench-{}", system.id()));
    if system == System::Linux {
        let _ = std::fs::remove_file(&spec.adds[1].0);
    }
    let rd = rd?;
    let mut m = Machine::new(kernel, cores, nodes);
    m.initrd = Some(rd.clone());
    m.append = append;
    m.monitor = o.monitor.clone();
    // Boot (Linux on 4 TCG cores of a loaded 2-core host: ~15 s) plus a
    // generous allowance per benchmark; a hung benchmark costs this much.
    let per = o.duration_ms * 2 + 10_000;
    m.timeout = Some(Duration::from_millis(60_000 + per * benches.len() as u64));
    let out = qemu::run(&m, true, o.verbose);
    let _ = std::fs::remove_file(&rd);
    Ok(out)
}

/// Run `benches` on `system`; a benchmark whose boot ended before it
/// reported is marked failed and the rest run in a new boot.
fn run_benches(
    env: &Env,
    o: &Options,
    system: System,
    cores: u32,
    nodes: u32,
    benches: &[&'static str],
) -> (Vec<(&'static str, Outcome)>, Duration) {
    let start = Instant::now();
    let mut results: Vec<(&'static str, Outcome)> = Vec::new();
    let mut remaining: Vec<&'static str> = benches.to_vec();
    while !remaining.is_empty() {
        let out = match boot(env, o, system, cores, nodes, &remaining) {
            Ok(out) => out,
            Err(e) => {
                results.extend(remaining.iter().map(|b| (*b, Outcome::Failed(e.clone()))));
                break;
            }
        };
        let (started, done) = parse_output(&out.output);
        let mut missing = Vec::new();
        for &b in &remaining {
            match done.iter().find(|(n, _)| n == b) {
                Some((_, oc)) => results.push((b, oc.clone())),
                None => missing.push(b),
            }
        }
        let Some((&culprit, rest)) = missing.split_first() else {
            break;
        };
        let why = format!(
            "{} after {:.1} s; last output: {}",
            describe_status(out.status),
            out.elapsed.as_secs_f64(),
            tail(&out.output, 4)
        );
        results.push((culprit, Outcome::Failed(why.clone())));
        if started.is_empty() {
            // The program never started: do not boot again for each benchmark.
            results.extend(rest.iter().map(|b| (*b, Outcome::Failed(why.clone()))));
            break;
        }
        remaining = rest.to_vec();
    }
    results.sort_by_key(|(b, _)| BENCHES.iter().position(|x| x.0 == *b));
    (results, start.elapsed())
}

// ---------------------------------------------------------------- summaries

/// Three significant digits with a k/M/G suffix: `33.6 k`, `458 k`, `1.23 M`.
fn human(v: f64) -> String {
    let (x, suffix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, " G"),
        a if a >= 1e6 => (v / 1e6, " M"),
        a if a >= 1e3 => (v / 1e3, " k"),
        _ => (v, ""),
    };
    let digits = match x.abs() {
        a if a >= 99.95 => 0,
        a if a >= 9.995 => 1,
        _ => 2,
    };
    format!("{x:.digits$}{suffix}")
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// All runs of one (system, benchmark, cores, nodes).
#[derive(Debug, Default)]
struct Cell {
    ok: Vec<f64>,
    total: usize,
    /// Distinct non-ok outcomes: (kind, reason).
    problems: Vec<(&'static str, String)>,
    /// Latency percentiles of each ok run.
    extra: BTreeMap<String, Vec<f64>>,
}

impl Cell {
    fn of(samples: &[Sample], system: System, bench: &str, cores: u32, nodes: u32) -> Cell {
        let mut c = Cell::default();
        for s in samples.iter().filter(|s| {
            s.system == system && s.bench == bench && s.cores == cores && s.nodes == nodes
        }) {
            c.total += 1;
            match &s.outcome {
                Outcome::Ok {
                    ops_per_sec, extra, ..
                } => {
                    c.ok.push(*ops_per_sec);
                    for (k, v) in extra {
                        c.extra.entry(k.clone()).or_default().push(*v);
                    }
                }
                other => {
                    let r = match other {
                        Outcome::Unsupported(r) | Outcome::Failed(r) => r.clone(),
                        Outcome::Ok { .. } => unreachable!(),
                    };
                    let p = (other.kind(), r);
                    if !c.problems.contains(&p) {
                        c.problems.push(p);
                    }
                }
            }
        }
        c
    }
    fn median(&self) -> Option<f64> {
        median(&mut self.ok.clone())
    }
    fn min_max(&self) -> Option<(f64, f64)> {
        let lo = self.ok.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.ok.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (!self.ok.is_empty()).then_some((lo, hi))
    }
    /// (max - min) / median, in percent.
    fn spread(&self) -> Option<f64> {
        let (lo, hi) = self.min_max()?;
        let m = self.median()?;
        (m > 0.0).then(|| (hi - lo) / m * 100.0)
    }
    fn extra_median(&self, k: &str) -> Option<f64> {
        median(&mut self.extra.get(k)?.clone())
    }
    /// The table cell: median, or why there is none.
    fn show(&self) -> String {
        match self.median() {
            Some(m) if self.ok.len() == self.total => human(m),
            Some(m) => format!("{} ({}/{} ok)", human(m), self.ok.len(), self.total),
            None if self.total == 0 => "not run".into(),
            None => self.problems.first().map_or("?", |p| p.0).to_string(),
        }
    }
}

fn machine_info() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next().map(str::to_string))
        .unwrap_or_default();
    format!("host: {nproc} CPUs ({cpu}), load average {load} at start; {qemu}; TCG")
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The Markdown report: an overview of ratios, one table per benchmark,
/// vmops latencies, and the reasons for every missing number.
fn report(o: &Options, samples: &[Sample], cfgs: &[(u32, u32)], env_note: &str) -> String {
    let mut s = String::new();
    let has = |sys: System| o.systems.contains(&sys);
    let _ = writeln!(s, "# NrOS vs. Linux: `cargo xtask bench`\n");
    let _ = writeln!(
        s,
        "{}; {}; {} run(s) per system and configuration, alternating; {} ms per benchmark per run; \
         one thread per core; {}; values are medians of ops/s, spread = (max - min) / median.\n",
        date(),
        env_note,
        o.repeats,
        o.duration_ms,
        if o.isolate { "one boot per benchmark" } else { "one boot per run runs all benchmarks in turn" }
    );
    if has(System::Nros) && has(System::Linux) {
        let _ = writeln!(s, "## Overview: NrOS / Linux (ratio of median ops/s)\n");
        let mut head = "| benchmark |".to_string();
        let mut rule = "|---|".to_string();
        for (c, n) in cfgs {
            let _ = write!(head, " {c}c/{n}n |");
            rule.push_str("---:|");
        }
        let _ = writeln!(s, "{head}\n{rule}");
        for b in &o.only {
            let mut row = format!("| {b} |");
            for &(c, n) in cfgs {
                let ours = Cell::of(samples, System::Nros, b, c, n);
                let lin = Cell::of(samples, System::Linux, b, c, n);
                let v = match (ours.median(), lin.median()) {
                    (Some(a), Some(l)) if l > 0.0 => format!("{:.2}×", a / l),
                    (None, _) if ours.total > 0 => ours.show(),
                    _ => "—".into(),
                };
                let _ = write!(row, " {v} |");
            }
            let _ = writeln!(s, "{row}");
        }
        let _ = writeln!(s);
    }
    let mut notes: Vec<String> = Vec::new();
    for b in &o.only {
        let what = BENCHES.iter().find(|x| x.0 == *b).map_or("", |x| x.1);
        let _ = writeln!(s, "## {b}: {what} (ops/s)\n");
        let mut head = "| cores | nodes |".to_string();
        let mut rule = "|---:|---:|".to_string();
        for sys in &o.systems {
            let _ = write!(head, " {} | spread |", sys.label());
            rule.push_str("---:|---:|");
        }
        if has(System::Nros) && has(System::Linux) {
            head.push_str(" NrOS/Linux |");
            rule.push_str("---:|");
        }
        let _ = writeln!(s, "{head}\n{rule}");
        for &(c, n) in cfgs {
            let mut row = format!("| {c} | {n} |");
            let mut med = BTreeMap::new();
            for &sys in &o.systems {
                let cell = Cell::of(samples, sys, b, c, n);
                let sp = cell.spread().map_or(String::new(), |p| format!("{p:.0}%"));
                let _ = write!(row, " {} | {sp} |", cell.show());
                med.insert(sys, cell.median());
                for (kind, r) in &cell.problems {
                    notes.push(format!("{b} {} {c}c/{n}n: {kind}: {r}", sys.label()));
                }
            }
            if has(System::Nros) && has(System::Linux) {
                let r = match (med[&System::Nros], med[&System::Linux]) {
                    (Some(a), Some(l)) if l > 0.0 => format!("{:.2}×", a / l),
                    _ => "—".into(),
                };
                let _ = write!(row, " {r} |");
            }
            let _ = writeln!(s, "{row}");
        }
        let _ = writeln!(s);
        if *b == "vmops" {
            let _ = writeln!(
                s,
                "vmops latency (ns; median over runs of each run's percentile; map = mmap + first write, \
                 unmap = munmap incl. TLB shootdown):\n"
            );
            let mut head = "| cores | nodes |".to_string();
            let mut rule = "|---:|---:|".to_string();
            for sys in &o.systems {
                let l = sys.label();
                let _ = write!(
                    head,
                    " {l} map p50 | {l} map p99 | {l} unmap p50 | {l} unmap p99 |"
                );
                rule.push_str("---:|---:|---:|---:|");
            }
            let _ = writeln!(s, "{head}\n{rule}");
            for &(c, n) in cfgs {
                let mut row = format!("| {c} | {n} |");
                for &sys in &o.systems {
                    let cell = Cell::of(samples, sys, b, c, n);
                    for k in LATENCY_KEYS {
                        let v = cell
                            .extra_median(k)
                            .map_or("—".into(), |v| format!("{v:.0}"));
                        let _ = write!(row, " {v} |");
                    }
                }
                let _ = writeln!(s, "{row}");
            }
            let _ = writeln!(s);
        }
    }
    if !notes.is_empty() {
        notes.dedup();
        let _ = writeln!(s, "## Missing numbers\n");
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
        let _ = writeln!(s);
    }
    s
}

fn csv(samples: &[Sample]) -> String {
    let mut s =
        String::from("system,benchmark,cores,nodes,run,ops_per_sec,status,threads,ops,secs");
    for k in LATENCY_KEYS {
        let _ = write!(s, ",{k}");
    }
    s.push_str(",reason\n");
    for x in samples {
        let _ = write!(
            s,
            "{},{},{},{},{},",
            x.system.id(),
            x.bench,
            x.cores,
            x.nodes,
            x.run
        );
        match &x.outcome {
            Outcome::Ok {
                ops_per_sec,
                ops,
                secs,
                extra,
            } => {
                let _ = write!(s, "{ops_per_sec:.1},ok,{},{ops},{secs:.6}", x.threads);
                for k in LATENCY_KEYS {
                    let _ = write!(
                        s,
                        ",{}",
                        extra.get(*k).map_or(String::new(), |v| format!("{v:.0}"))
                    );
                }
                s.push_str(",\n");
            }
            Outcome::Unsupported(r) | Outcome::Failed(r) => {
                let _ = write!(s, ",{},{},,", x.outcome.kind(), x.threads);
                for _ in LATENCY_KEYS {
                    s.push(',');
                }
                let _ = writeln!(s, ",\"{}\"", r.replace('"', "'"));
            }
        }
    }
    s
}

fn plot(
    o: &Options,
    samples: &[Sample],
    cfgs: &[(u32, u32)],
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    use plotters::style::{register_font, FontStyle};
    register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "invalid embedded font")?;
    register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
        .map_err(|_| "invalid embedded font")?;

    let n = o.only.len();
    let cols = n.min(5);
    let rows = n.div_ceil(cols);
    let (pw, ph) = (380u32, 320u32);
    let root =
        BitMapBackend::new(path, (pw * cols as u32, ph * rows as u32 + 76)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "NrOS vs. Linux, QEMU TCG: ops/s against cores (median of {} x {} ms, bars min-max)",
            o.repeats, o.duration_ms
        ),
        ("sans-serif", 18),
    )?;
    let mut cores: Vec<u32> = cfgs.iter().map(|c| c.0).collect();
    cores.sort();
    cores.dedup();
    let mut nodes: Vec<u32> = cfgs.iter().map(|c| c.1).collect();
    nodes.sort();
    nodes.dedup();
    let xmax = f64::from(*cores.last().unwrap_or(&1));
    let color = |sys: System, i: usize| match (sys, i % 2) {
        (System::Nros, 0) => RGBColor(31, 119, 180),
        (System::Nros, _) => RGBColor(23, 190, 207),
        (System::Linux, 0) => RGBColor(214, 39, 40),
        (System::Linux, _) => RGBColor(255, 127, 14),
    };
    // One legend for all panels, below them.
    let (body, legend) = root.split_vertically(root.dim_in_pixel().1 - 36);
    let mut x = 20;
    for &sys in &o.systems {
        for (i, &nn) in nodes.iter().enumerate() {
            let col = color(sys, i);
            legend.draw(&PathElement::new(
                vec![(x, 18), (x + 26, 18)],
                col.stroke_width(3),
            ))?;
            legend.draw(&Circle::new((x + 13, 18), 4, col.filled()))?;
            let text = format!(
                "{} {nn} node{}",
                sys.label(),
                if nn == 1 { "" } else { "s" }
            );
            legend.draw(&Text::new(text, (x + 34, 10), ("sans-serif", 15)))?;
            x += 170;
        }
    }
    for (panel, b) in body.split_evenly((rows, cols)).iter().zip(&o.only) {
        // (system, nodes index) -> [(cores, median, min, max)]
        let mut series = Vec::new();
        let mut hi = 0.0f64;
        for &sys in &o.systems {
            for (i, &nn) in nodes.iter().enumerate() {
                let pts: Vec<(f64, f64, f64, f64)> = cores
                    .iter()
                    .filter_map(|&c| {
                        let cell = Cell::of(samples, sys, b, c, nn);
                        let (a, z) = cell.min_max()?;
                        Some((f64::from(c), cell.median()?, a, z))
                    })
                    .collect();
                for p in &pts {
                    hi = hi.max(p.3);
                }
                if !pts.is_empty() {
                    series.push((sys, i, nn, pts));
                }
            }
        }
        if series.is_empty() {
            panel.draw(&Text::new(
                format!("{b}: no numbers"),
                (20, 40),
                ("sans-serif", 16),
            ))?;
            continue;
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(*b, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(58)
            .build_cartesian_2d(0.5f64..xmax + 0.5, 0.0..hi * 1.15)?;
        let cores_c = cores.clone();
        chart
            .configure_mesh()
            .x_desc("cores")
            .x_labels(cores.len().max(2) * 4)
            .x_label_formatter(&|x| {
                let r = x.round();
                if (x - r).abs() < 1e-6 && cores_c.contains(&(r as u32)) {
                    format!("{r:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| human(*y).replace(' ', ""))
            .draw()?;
        for (sys, i, _, pts) in series {
            let col = color(sys, i);
            chart.draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1)),
                col.stroke_width(2),
            ))?;
            chart.draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 3, col.filled())))?;
            chart
                .draw_series(pts.iter().map(|p| {
                    PathElement::new(vec![(p.0, p.2), (p.0, p.3)], col.stroke_width(1))
                }))?;
        }
    }
    root.present()?;
    Ok(())
}

// ---------------------------------------------------------------- driver

fn brief(o: &Outcome) -> String {
    match o {
        Outcome::Ok { ops_per_sec, .. } => human(*ops_per_sec),
        Outcome::Unsupported(_) => "unsupported".into(),
        Outcome::Failed(_) => "FAILED".into(),
    }
}

/// `cargo xtask bench [options]`.
pub fn run(args: &[String]) -> i32 {
    let o = match crate::options_or_usage("bench", USAGE, parse(args)) {
        Ok(o) => o,
        Err(status) => return status,
    };
    let cfgs = configs(&o);
    if cfgs.is_empty() {
        eprintln!("xtask bench: no configuration: cores must be a multiple of nodes");
        return 2;
    }
    if let Err(e) = qemu::ensure_qemu() {
        eprintln!("xtask: {e}");
        return 2;
    }
    let cache = cache_dir();
    let work = cache.join("work");
    if let Err(e) = std::fs::create_dir_all(&work).and_then(|_| std::fs::create_dir_all(&o.out)) {
        eprintln!("xtask bench: {e}");
        return 1;
    }
    let prep = || -> Result<Env, String> {
        let program = build_program(&cache)?;
        let linux = if o.systems.contains(&System::Linux) {
            Some(linux_kernel(&cache)?)
        } else {
            None
        };
        if initrd::host_busybox().is_none() && o.systems.contains(&System::Linux) {
            return Err("the Linux baseline needs a static busybox for /init: apt-get install -y busybox-static".into());
        }
        eprintln!("xtask bench: building the kernel (release)");
        let nros = crate::build_kernel(true)?;
        Ok(Env {
            nros,
            linux,
            program,
            work: work.clone(),
        })
    };
    let env = match prep() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            return 1;
        }
    };
    if o.profile > 0 {
        return profile(&env, &o, cfgs[0]);
    }
    let linux_name = env
        .linux
        .as_ref()
        .map(|k| {
            let pkg =
                std::fs::read_to_string(cache.join("linux").join("PACKAGE")).unwrap_or_default();
            let pkg = pkg.trim();
            let file = k.file_name().and_then(|n| n.to_str()).unwrap_or("vmlinuz");
            if pkg.is_empty() {
                format!("Linux {file}")
            } else {
                format!("Linux {file} (Debian {pkg})")
            }
        })
        .unwrap_or_default();
    let env_note = format!("{}; {linux_name}", machine_info());
    eprintln!("xtask bench: {env_note}");
    eprintln!(
        "xtask bench: {} configuration(s) x {} run(s) x {} system(s), {} benchmark(s) of {} ms per boot",
        cfgs.len(),
        o.repeats,
        o.systems.len(),
        o.only.len(),
        o.duration_ms
    );

    let total = cfgs.len() * o.repeats as usize * o.systems.len();
    let mut k = 0;
    let mut samples: Vec<Sample> = Vec::new();
    for &(cores, nodes) in &cfgs {
        for run in 1..=o.repeats {
            // Alternate: NrOS, Linux, NrOS, Linux, ...
            for &sys in &o.systems {
                k += 1;
                eprint!(
                    "xtask bench: [{k:>2}/{total}] {:<5} {cores} core{} / {nodes} node{}, run {run}/{}: ",
                    sys.label(),
                    if cores == 1 { "" } else { "s" },
                    if nodes == 1 { "" } else { "s" },
                    o.repeats
                );
                let (res, took) = if o.isolate {
                    let mut all = Vec::new();
                    let mut took = Duration::ZERO;
                    for b in &o.only {
                        let (r, t) =
                            run_benches(&env, &o, sys, cores, nodes, std::slice::from_ref(b));
                        all.extend(r);
                        took += t;
                    }
                    (all, took)
                } else {
                    run_benches(&env, &o, sys, cores, nodes, &o.only)
                };
                let line: Vec<String> = res
                    .iter()
                    .map(|(b, oc)| format!("{b} {}", brief(oc)))
                    .collect();
                eprintln!("{:.1} s: {}", took.as_secs_f64(), line.join(", "));
                for (b, oc) in &res {
                    if let Outcome::Failed(r) = oc {
                        eprintln!("xtask bench:     {b} failed: {r}");
                    }
                }
                samples.extend(res.into_iter().map(|(bench, outcome)| Sample {
                    system: sys,
                    bench,
                    cores,
                    nodes,
                    run,
                    threads: cores,
                    outcome,
                }));
                // Keep what we have if the run is interrupted.
                let _ = std::fs::write(o.out.join("bench.csv"), csv(&samples));
            }
        }
    }

    let text = report(&o, &samples, &cfgs, &env_note);
    println!("\n{text}");
    let md = o.out.join("summary.md");
    let csv_path = o.out.join("bench.csv");
    let png = o.out.join("throughput.png");
    let mut status = 0;
    for (p, data) in [(&md, text.clone()), (&csv_path, csv(&samples))] {
        if let Err(e) = std::fs::write(p, data) {
            eprintln!("xtask bench: {}: {e}", p.display());
            status = 1;
        }
    }
    match plot(&o, &samples, &cfgs, &png) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("xtask bench: plot {}: {e}", png.display());
            status = 1;
        }
    }
    println!(
        "results: {}\n         {}\n         {}",
        md.display(),
        csv_path.display(),
        png.display()
    );

    if o.smoke {
        return smoke_check(&o, &samples).max(status);
    }
    let failed = samples
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Failed(_)))
        .count();
    if failed > 0 {
        eprintln!("xtask bench: {failed} benchmark run(s) failed (see \"Missing numbers\")");
        status = 1;
    }
    status
}

/// The smoke run's verdict: Linux must produce every number; NrOS every
/// number except benchmarks it cannot run yet (multi-threaded runs, and
/// those in `NROS_MAY_BE_UNSUPPORTED`), which count as skipped when they
/// report "unsupported".
fn smoke_check(o: &Options, samples: &[Sample]) -> i32 {
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    println!("\nsmoke check:");
    for s in samples {
        let tag = format!("{} {} {}c/{}n", s.bench, s.system.label(), s.cores, s.nodes);
        match &s.outcome {
            Outcome::Ok { ops_per_sec, .. } => {
                passed += 1;
                println!("  ok       {tag}: {} ops/s", human(*ops_per_sec));
            }
            Outcome::Unsupported(r)
                if s.system == System::Nros
                    && (s.threads > 1 || NROS_MAY_BE_UNSUPPORTED.contains(&s.bench)) =>
            {
                skipped += 1;
                println!("  skipped  {tag}: unsupported on NrOS for now ({r})");
            }
            Outcome::Unsupported(r) | Outcome::Failed(r) => {
                failed += 1;
                println!("  FAILED   {tag}: {}: {r}", s.outcome.kind());
            }
        }
    }
    let _ = o;
    println!("bench-smoke: {passed} passed, {failed} failed, {skipped} skipped");
    i32::from(failed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_program_output() {
        let text = "junk\r\nSTART name=DRBL threads=1\r\n[INFO] xRESULT name=DRBL threads=1 ops=10 secs=0.5 ops_per_sec=20.0\r\n\
                    START name=vmops threads=2\nRESULT name=vmops threads=2 ops=4 secs=1.0 ops_per_sec=4.0 map_p50_ns=100 map_p99_ns=200 unmap_p50_ns=5 unmap_p99_ns=9 samples=4\n\
                    START name=forkexec threads=1\nUNSUPPORTED name=forkexec threads=1 reason=fork: Function not implemented\n\
                    FAILED name=MWCL threads=1 reason=create: No space left\nSTART name=getppid threads=1\n";
        let (started, done) = parse_output(text);
        assert_eq!(started, ["DRBL", "vmops", "forkexec", "getppid"]);
        assert_eq!(done.len(), 4);
        assert!(
            matches!(&done[0].1, Outcome::Ok { ops_per_sec, ops: 10, .. } if *ops_per_sec == 20.0)
        );
        match &done[1].1 {
            Outcome::Ok { extra, .. } => assert_eq!(extra.get("unmap_p99_ns"), Some(&9.0)),
            o => panic!("{o:?}"),
        }
        assert!(
            matches!(&done[2].1, Outcome::Unsupported(r) if r == "fork: Function not implemented")
        );
        assert!(matches!(&done[3].1, Outcome::Failed(r) if r == "create: No space left"));
    }

    #[test]
    fn options_and_configs() {
        let o = parse(&[
            "--cores".into(),
            "1,2,4".into(),
            "--nodes".into(),
            "2".into(),
        ])
        .unwrap();
        assert_eq!(configs(&o), [(2, 2), (4, 2)]);
        let o = parse(&["--smoke".into()]).unwrap();
        assert_eq!(
            (configs(&o), o.repeats, o.duration_ms),
            (vec![(1, 1)], 1, 50)
        );
        let o = parse(&["--only".into(), "vmops,drbl".into()]).unwrap();
        assert_eq!(o.only, ["DRBL", "vmops"]);
        assert!(parse(&["--only".into(), "nope".into()]).is_err());
    }

    #[test]
    fn medians_and_cells() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let s = |run, v: Option<f64>| Sample {
            system: System::Linux,
            bench: "DRBL",
            cores: 1,
            nodes: 1,
            run,
            threads: 1,
            outcome: v.map_or(Outcome::Failed("x".into()), |v| Outcome::Ok {
                ops_per_sec: v,
                ops: 1,
                secs: 1.0,
                extra: BTreeMap::new(),
            }),
        };
        let samples = [s(1, Some(100.0)), s(2, Some(110.0)), s(3, None)];
        let c = Cell::of(&samples, System::Linux, "DRBL", 1, 1);
        assert_eq!(c.median(), Some(105.0));
        assert_eq!(c.show(), "105 (2/3 ok)");
        assert_eq!(
            (
                human(33580.0),
                human(458475.0),
                human(1234567.0),
                human(96.2),
                human(9.5)
            ),
            (
                "33.6 k".into(),
                "458 k".into(),
                "1.23 M".into(),
                "96.2".into(),
                "9.50".into()
            )
        );
        let csv = csv(&samples);
        assert!(csv.starts_with("system,benchmark,cores,nodes,run,ops_per_sec,"));
        assert_eq!(csv.lines().count(), 4);
    }
}

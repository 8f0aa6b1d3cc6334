//! `cargo xtask`: build, boot, test and benchmark NrOS.

mod bench;
mod fuzz;
mod initrd;
mod profile;
mod programs;
mod qemu;
mod tests;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  run     build the kernel and boot it in QEMU (serial console on stdout)
            --cores N        cores (default 4)
            --nodes M        NUMA nodes (default 2; cores must be a multiple)
            --mem MIB        total memory, split evenly (default 512 per node)
            --timeout SECS   kill QEMU after SECS seconds (exit status 124)
            --kernel-test T  run built-in kernel test T (topology, alloc, ipi, retire,
                             pagefault, gpfault, stackoverflow)
            --append ARGS    extra kernel command line (log=debug, ...)
            --add HOST[:GUEST]  put a file or directory into the root file
                             system (repeatable; a file goes to /bin/<name>
                             by default)
            --cmd \"PROG ARGS\"  what process 1 runs; when it exits the machine
                             powers off and `run` exits with its status
                             (128+N if killed by signal N)
            --quiet          stdout carries only what programs write to the
                             console; the kernel log goes to stderr
            --no-busybox     do not add the host's busybox (/bin/sh, ...)
            --release        optimised kernel
  test    run every test: host unit tests, loom model checks, QEMU tests
  bench   NrOS vs. Linux in identical QEMU machines (`bench --help`);
          `bench nr`: node replication vs. the reference crate
  build   build the kernel only (--release)
  fuzz    the system-call fuzzer (tests/fuzz/fuzz.c) on the kernel in QEMU:
            --seed S --calls N --cores C --nodes M [--runs K] [--release]
            (`fuzz --help` for every option)

exit status of `run`: the guest's status; 222 = kernel panic or CPU
exception, 223 = machine reset without a status, 124 = timeout,
125 = QEMU could not start.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("run") => cmd_run(&args[1..]),
        Some("test") => tests::run_all(&args[1..]),
        Some("bench") => cmd_bench(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("build") => build_kernel(args.iter().any(|a| a == "--release"))
            .map(|_| 0)
            .unwrap_or_else(|e| {
                eprintln!("xtask: {e}");
                1
            }),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            0
        }
        Some(other) => {
            eprintln!("xtask: unknown command `{other}`\n\n{USAGE}");
            2
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Build the kernel; returns the path of the ELF image.
pub fn build_kernel(release: bool) -> Result<PathBuf, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root())
        .args(["rustc", "--quiet", "-p", "kernel", "--bin", "kernel"]);
    if release {
        cmd.arg("--release");
    }
    // The kernel is linked in the top 2 GiB without PIE.
    cmd.args([
        "--",
        "-C",
        "relocation-model=static",
        "-C",
        "code-model=kernel",
    ]);
    let st = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !st.success() {
        return Err("kernel build failed".into());
    }
    Ok(target_dir()
        .join(if release { "release" } else { "debug" })
        .join("kernel"))
}

/// Options shared by `run` and the tests.
#[derive(Debug, Default)]
struct RunOptions {
    cores: Option<u32>,
    nodes: Option<u32>,
    mem: Option<u32>,
    timeout: Option<u64>,
    kernel_test: Option<String>,
    append: Vec<String>,
    release: bool,
    adds: Vec<String>,
    cmd: Option<String>,
    quiet: bool,
    no_busybox: bool,
}

fn parse_run(args: &[String]) -> Result<RunOptions, String> {
    let mut o = RunOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let num = |s: String, name: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("{name}: `{s}` is not a number"))
        };
        match a.as_str() {
            "--cores" => o.cores = Some(num(val(a)?, a)? as u32),
            "--nodes" => o.nodes = Some(num(val(a)?, a)? as u32),
            "--mem" => o.mem = Some(num(val(a)?, a)? as u32),
            "--timeout" => o.timeout = Some(num(val(a)?, a)?),
            "--kernel-test" => o.kernel_test = Some(val(a)?),
            "--append" => o.append.push(val(a)?),
            "--release" => o.release = true,
            "--add" => o.adds.push(val(a)?),
            "--cmd" => o.cmd = Some(val(a)?),
            "--quiet" => o.quiet = true,
            "--no-busybox" => o.no_busybox = true,
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(o)
}

fn machine(o: &RunOptions, kernel: PathBuf) -> qemu::Machine {
    let mut m = qemu::Machine::new(kernel, o.cores.unwrap_or(4), o.nodes.unwrap_or(2));
    if let Some(mem) = o.mem {
        m.mem_mib = mem;
    }
    // The runner's own keys go first: the user's `--append` may end with
    // `-- ARGS` (arguments for `init=`), after which nothing is a kernel key.
    let mut append = Vec::new();
    if let Some(t) = &o.kernel_test {
        append.push(format!("test={t}"));
    }
    if o.quiet {
        append.push("quiet".into());
        append.push("console.onlcr=0".into());
    }
    append.extend(o.append.iter().cloned());
    m.append = append.join(" ");
    m.timeout = o.timeout.map(Duration::from_secs);
    m.quiet = o.quiet;
    m
}

/// The initrd described by the `--add`/`--cmd` options.
fn initrd_spec(o: &RunOptions) -> Result<initrd::Spec, String> {
    let mut spec = initrd::Spec {
        busybox: !o.no_busybox,
        ..Default::default()
    };
    for a in &o.adds {
        spec.adds.push(initrd::parse_add(a)?);
    }
    if let Some(c) = &o.cmd {
        spec.cmd = initrd::split_cmd(c)?;
        if spec.cmd.is_empty() {
            return Err("--cmd is empty".into());
        }
    }
    Ok(spec)
}

fn cmd_run(args: &[String]) -> i32 {
    let o = match parse_run(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("xtask run: {e}\n\n{USAGE}");
            return 2;
        }
    };
    if let Err(e) = qemu::ensure_qemu() {
        eprintln!("xtask: {e}");
        return 2;
    }
    let kernel = match build_kernel(o.release) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("xtask: {e}");
            return 1;
        }
    };
    let mut m = machine(&o, kernel);
    if o.kernel_test.is_none() {
        let spec = match initrd_spec(&o) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("xtask run: {e}");
                return 2;
            }
        };
        if spec.busybox && initrd::host_busybox().is_none() && o.cmd.is_none() {
            eprintln!("xtask: no static busybox on this host (apt-get install busybox-static): no /bin/sh in the guest");
        }
        match initrd::write(&spec, "run") {
            Ok(p) => m.initrd = Some(p),
            Err(e) => {
                eprintln!("xtask run: {e}");
                return 1;
            }
        }
    }
    if !o.quiet {
        eprintln!(
            "xtask: booting {} cores on {} NUMA nodes, {} MiB",
            m.cores, m.nodes, m.mem_mib
        );
    }
    let out = qemu::run(&m, false, true);
    if let Some(p) = &m.initrd {
        let _ = std::fs::remove_file(p);
    }
    if out.status != 0 && !o.quiet {
        eprintln!("xtask: exit status {}", out.status);
    }
    out.status
}

fn cmd_bench(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("nr") => {
            let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(root())
                .args(["run", "--release", "-p", "nr-bench", "--"])
                .args(&args[1..])
                .status();
            st.map(|s| s.code().unwrap_or(1)).unwrap_or(1)
        }
        // NrOS vs. Linux in QEMU (see bench.rs).
        _ => bench::run(args),
    }
}

/// A subcommand's parsed options, or the exit status after printing its
/// usage: `parse` gives an empty error for `--help` (status 0) and a
/// message for bad options (status 2).
pub fn options_or_usage<T>(cmd: &str, usage: &str, parsed: Result<T, String>) -> Result<T, i32> {
    parsed.map_err(|e| {
        if e.is_empty() {
            println!("{usage}");
            0
        } else {
            eprintln!("xtask {cmd}: {e}\n\n{usage}");
            2
        }
    })
}

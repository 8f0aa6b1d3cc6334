//! `cargo xtask test`: every test of the project.
//!
//! 1. host unit and property tests (`cargo test --workspace`);
//! 2. the loom model checks of `nr`;
//! 3. the benchmark harness smoke run;
//! 4. QEMU integration tests: each built-in kernel test on 1 core / 1 node,
//!    4 cores / 2 nodes and 8 cores / 4 nodes (topology also on 16 / 4),
//!    checking the console output and the exit status;
//! 5. user programs (`tests/programs`, `tests/nros`): static binaries built
//!    with musl, glibc and Rust, and busybox one-liners, on 1 core / 1 node
//!    and 4 cores / 2 nodes; differential against the host's Linux where
//!    the output is deterministic.
//! 6. `cargo xtask bench --smoke`: every NrOS-vs-Linux benchmark once on
//!    both systems.

use crate::programs::{self, Expect, Toolchain, UserCase};
use crate::qemu::{self, Machine, STATUS_KERNEL_PANIC};
use std::process::Command;
use std::time::{Duration, Instant};

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(crate::root());
    c
}

fn step(name: &str, mut cmd: Command) -> bool {
    eprintln!("\n==> {name}");
    let t = Instant::now();
    let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
    eprintln!(
        "==> {name}: {} in {:.1} s",
        if ok { "ok" } else { "FAILED" },
        t.elapsed().as_secs_f64()
    );
    ok
}

/// Run everything; `--qemu-only` / `--host-only` select a part.
pub fn run_all(args: &[String]) -> i32 {
    let qemu_only = args.iter().any(|a| a == "--qemu-only");
    let host_only = args.iter().any(|a| a == "--host-only");
    // `--only SUBSTRING`: run only the QEMU cases whose name contains it.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let mut failed_steps = Vec::new();
    if !qemu_only {
        let mut c = cargo();
        c.args(["test", "--workspace", "--exclude", "kernel"]);
        if !step("host unit and property tests", c) {
            failed_steps.push("host tests");
        }
        if crate::root().join("crates/nr").exists() {
            let mut c = cargo();
            c.args(["test", "-p", "nr", "--release", "--test", "loom"])
                .env("RUSTFLAGS", "--cfg loom -C force-frame-pointers=yes")
                .env("CARGO_TARGET_DIR", crate::root().join("target/loom"));
            if !step("loom model checks of nr", c) {
                failed_steps.push("loom");
            }
        }
        if crate::root().join("crates/nr-bench").exists() {
            let mut c = cargo();
            c.args([
                "run",
                "--release",
                "-p",
                "nr-bench",
                "--",
                "--smoke",
                "--out",
            ])
            .arg(crate::root().join("target/nr-bench-smoke"));
            if !step("nr benchmark smoke run", c) {
                failed_steps.push("nr-bench smoke");
            }
        }
    }
    let (mut passed, mut failed) = (0, 0);
    if !host_only {
        if let Err(e) = qemu::ensure_qemu() {
            eprintln!("xtask: {e}");
            return 1;
        }
        eprintln!("\n==> QEMU integration tests");
        let kernel = match crate::build_kernel(false) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("xtask: {e}");
                return 1;
            }
        };
        let cases: Vec<Case> = cases()
            .into_iter()
            .filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str())))
            .collect();
        let user = match user_cases() {
            Ok(u) => u,
            Err(e) => {
                eprintln!("xtask: building test programs: {e}");
                failed_steps.push("test program build");
                Vec::new()
            }
        };
        let user: Vec<(UserCase, u32, u32)> = user
            .into_iter()
            .flat_map(|u| {
                [(1, 1), (4, 2)].map(|(c, n)| {
                    (
                        UserCase {
                            name: format!("{} {c}c/{n}n", u.name),
                            ..u.clone()
                        },
                        c,
                        n,
                    )
                })
            })
            .filter(|(u, _, _)| only.as_ref().is_none_or(|o| u.name.contains(o.as_str())))
            .collect();
        let shell = only
            .as_ref()
            .is_none_or(|o| "interactive shell 4c/2n".contains(o.as_str()));
        let total = cases.len() + user.len() + usize::from(shell);
        for (i, case) in cases.into_iter().enumerate() {
            let mut m = Machine::new(kernel.clone(), case.cores, case.nodes);
            m.append = case.append.clone();
            m.timeout = Some(Duration::from_secs(120));
            let out = qemu::run(&m, true, false);
            let verdict = (case.check)(&case, out.status, &out.output);
            match &verdict {
                Ok(()) => passed += 1,
                Err(_) => failed += 1,
            }
            eprintln!(
                "[{:>2}/{}] {:<28} {:>5.1} s  {}",
                i + 1,
                total,
                case.name,
                out.elapsed.as_secs_f64(),
                match &verdict {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("FAILED: {e}"),
                }
            );
            if verdict.is_err() {
                eprintln!(
                    "---- console output (status {}) ----\n{}\n----",
                    out.status, out.output
                );
            }
        }
        let offset = total - user.len();
        for (i, (case, cores, nodes)) in user.into_iter().enumerate() {
            let t = Instant::now();
            let verdict = programs::run_case(&case, &kernel, cores, nodes);
            match &verdict {
                Ok(()) => passed += 1,
                Err(_) => failed += 1,
            }
            eprintln!(
                "[{:>2}/{}] {:<28} {:>5.1} s  {}",
                offset + i + 1,
                total,
                case.name,
                t.elapsed().as_secs_f64(),
                match &verdict {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("FAILED: {e}"),
                }
            );
        }
    }
    if !host_only
        && only
            .as_ref()
            .is_none_or(|o| "interactive shell 4c/2n".contains(o.as_str()))
    {
        let t = Instant::now();
        let verdict = crate::build_kernel(false).and_then(|k| interactive_shell(&k));
        match &verdict {
            Ok(()) => passed += 1,
            Err(_) => failed += 1,
        }
        eprintln!(
            "[  ] {:<32} {:>5.1} s  {}",
            "interactive shell 4c/2n",
            t.elapsed().as_secs_f64(),
            match &verdict {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("FAILED: {e}"),
            }
        );
    }
    if !host_only && only.as_ref().is_none_or(|o| "fuzz".contains(o.as_str())) {
        // The system-call fuzzer: 200,000 calls from 4 processes x 2
        // threads on 4 cores / 2 nodes (release kernel), a fixed seed; it
        // fails on a panic, a hang, memory not coming back or replicas
        // that differ.
        eprintln!("\n==> system-call fuzzer (200,000 calls, 4 cores / 2 nodes)");
        let args: Vec<String> = [
            "--seed",
            "2",
            "--calls",
            "200000",
            "--cores",
            "4",
            "--nodes",
            "2",
            "--release",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if crate::fuzz::run(&args) == 0 {
            passed += 1;
        } else {
            failed_steps.push("fuzz");
        }
    }
    if !host_only && only.is_none() {
        // The NrOS-vs-Linux benchmark harness, once with tiny durations, so
        // that it cannot rot (downloads Debian's kernel once, cached).
        eprintln!("\n==> NrOS vs. Linux benchmark smoke run");
        if crate::bench::run(&["--smoke".to_string()]) != 0 {
            failed_steps.push("bench smoke");
        }
    }
    for s in &failed_steps {
        eprintln!("failed step: {s}");
        failed += 1;
    }
    println!("\nxtask test: {passed} passed, {failed} failed");
    i32::from(failed != 0)
}

type Check = fn(&Case, i32, &str) -> Result<(), String>;

struct Case {
    name: String,
    cores: u32,
    nodes: u32,
    append: String,
    check: Check,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let configs = [(1, 1), (4, 2), (8, 4)];
    let tests: [(&str, Check); 6] = [
        ("topology", check_topology),
        ("alloc", check_alloc),
        ("ipi", check_ipi),
        ("retire", check_retire),
        ("pagefault", check_pagefault),
        ("gpfault", check_gpfault),
    ];
    for (t, check) in tests {
        for (cores, nodes) in configs {
            v.push(Case {
                name: format!("{t} {cores}c/{nodes}n"),
                cores,
                nodes,
                append: format!("test={t}"),
                check,
            });
        }
    }
    v.push(Case {
        name: "stackoverflow 4c/2n".into(),
        cores: 4,
        nodes: 2,
        append: "test=stackoverflow".into(),
        check: check_stack_overflow,
    });
    v.push(Case {
        name: "smap 4c/2n".into(),
        cores: 4,
        nodes: 2,
        append: "test=smap".into(),
        check: check_smap,
    });
    v.push(Case {
        name: "smep 4c/2n".into(),
        cores: 4,
        nodes: 2,
        append: "test=smep".into(),
        check: check_smep,
    });
    v.push(Case {
        name: "topology 16c/4n".into(),
        cores: 16,
        nodes: 4,
        append: "test=topology".into(),
        check: check_topology,
    });
    v.push(Case {
        name: "default boot 4c/2n".into(),
        cores: 4,
        nodes: 2,
        append: String::new(),
        check: check_default_boot,
    });
    v
}

fn expect_status(got: i32, want: i32) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("exit status {got}, expected {want}"))
    }
}

/// One `cpu <id> node <node> apic <apic>` line per core, nodes assigned as
/// QEMU was told (consecutive cores per socket, one socket per node), and
/// one `node <n> mem <MiB> MiB` line per node with about its share of RAM.
fn check_topology(c: &Case, status: i32, out: &str) -> Result<(), String> {
    expect_status(status, 0)?;
    let per_node = c.cores / c.nodes;
    let mut seen = vec![false; c.cores as usize];
    let mut apics = std::collections::BTreeSet::new();
    for l in out.lines().filter(|l| l.starts_with("cpu ")) {
        let w: Vec<&str> = l.split_whitespace().collect();
        let parsed = match w.as_slice() {
            ["cpu", id, "node", node, "apic", apic] => id
                .parse::<u32>()
                .ok()
                .zip(node.parse::<u32>().ok())
                .zip(apic.parse::<u32>().ok()),
            _ => None,
        };
        let ((id, node), apic) = parsed.ok_or_else(|| format!("malformed line `{l}`"))?;
        if id >= c.cores || seen[id as usize] {
            return Err(format!("unexpected or repeated core in `{l}`"));
        }
        seen[id as usize] = true;
        if !apics.insert(apic) {
            return Err(format!("APIC id repeated in `{l}`"));
        }
        // QEMU numbers APIC ids socket by socket; ids within a socket are
        // rounded up to a power of two, so derive the socket from the APIC id.
        let socket = apic / per_node.next_power_of_two();
        if node != socket {
            return Err(format!("`{l}`: expected node {socket}"));
        }
    }
    if seen.iter().any(|s| !s) {
        return Err(format!("expected {} cpu lines", c.cores));
    }
    let node_lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("node ") && l.ends_with(" MiB"))
        .collect();
    if node_lines.len() != c.nodes as usize {
        return Err(format!(
            "expected {} node lines, got {}",
            c.nodes,
            node_lines.len()
        ));
    }
    for (n, l) in node_lines.iter().enumerate() {
        let w: Vec<&str> = l.split_whitespace().collect();
        let mib: u32 = match w.as_slice() {
            ["node", id, "mem", mib, "MiB"] if id.parse::<usize>() == Ok(n) => {
                mib.parse().map_err(|_| format!("bad `{l}`"))?
            }
            _ => return Err(format!("malformed line `{l}`")),
        };
        let share = 512;
        if mib < share * 8 / 10 || mib > share {
            return Err(format!("`{l}`: expected about {share} MiB"));
        }
    }
    Ok(())
}

fn check_alloc(c: &Case, status: i32, out: &str) -> Result<(), String> {
    expect_status(status, 0)?;
    let want = format!("alloc: {} cores", c.cores);
    out.lines()
        .any(|l| l.starts_with(&want))
        .then_some(())
        .ok_or_else(|| format!("no `{want}` line"))
}

fn check_ipi(c: &Case, status: i32, out: &str) -> Result<(), String> {
    expect_status(status, 0)?;
    let want = format!(
        "ipi: {} cores, {} cross-core calls answered",
        c.cores,
        c.cores * (c.cores - 1)
    );
    out.lines()
        .any(|l| l == want)
        .then_some(())
        .ok_or_else(|| format!("no `{want}` line"))
}

fn check_retire(c: &Case, status: i32, out: &str) -> Result<(), String> {
    expect_status(status, 0)?;
    let want = format!(
        "retire: page tables freed only after every core flushed, cores: {}",
        c.cores
    );
    out.lines()
        .any(|l| l == want)
        .then_some(())
        .ok_or_else(|| format!("no `{want}` line"))
}

fn check_exception(status: i32, out: &str, header: &str, extra: &[&str]) -> Result<(), String> {
    expect_status(status, STATUS_KERNEL_PANIC)?;
    for needle in std::iter::once(&header).chain(extra) {
        if !out.contains(needle) {
            return Err(format!("report lacks `{needle}`"));
        }
    }
    let trace = out.split("stack trace").nth(1).ok_or("no stack trace")?;
    // (The first line is the faulting rip, which the smep test puts in a
    // user page.)
    let frames = trace
        .lines()
        .skip(1)
        .filter(|l| l.trim().starts_with("0xffffffff8"))
        .count();
    if frames < 2 {
        return Err(format!(
            "stack trace has {frames} kernel addresses, expected at least 2"
        ));
    }
    Ok(())
}

fn check_pagefault(_: &Case, status: i32, out: &str) -> Result<(), String> {
    check_exception(
        status,
        out,
        "CPU exception 14 (page fault) on core 0",
        &["cr2 0x00000000dead0000", "error code 0x0"],
    )
}

fn check_gpfault(_: &Case, status: i32, out: &str) -> Result<(), String> {
    check_exception(
        status,
        out,
        "CPU exception 13 (general protection fault) on core 0",
        &["rip 0xffffffff8"],
    )
}

fn check_smap(_: &Case, status: i32, out: &str) -> Result<(), String> {
    check_exception(
        status,
        out,
        "CPU exception 14 (page fault) on core 0",
        &[
            "error code 0x1 ",
            "cr2 0x0000000010000000",
            "blocked by SMAP",
            "SMAP on",
        ],
    )
}

fn check_smep(_: &Case, status: i32, out: &str) -> Result<(), String> {
    check_exception(
        status,
        out,
        "CPU exception 14 (page fault) on core 0",
        &[
            "error code 0x11 ",
            "rip 0x0000000010000000",
            "blocked by SMEP",
            "SMEP on",
        ],
    )
}

fn check_default_boot(c: &Case, status: i32, out: &str) -> Result<(), String> {
    expect_status(status, 0)?;
    let want = format!("all {} cores online", c.cores);
    out.contains(&want)
        .then_some(())
        .ok_or_else(|| format!("no `{want}`"))
}

fn check_stack_overflow(_: &Case, status: i32, out: &str) -> Result<(), String> {
    expect_status(status, STATUS_KERNEL_PANIC)?;
    for needle in [
        "CPU exception 14 (page fault) on core 0",
        "kernel stack guard page: stack overflow",
    ] {
        if !out.contains(needle) {
            return Err(format!("report lacks `{needle}`"));
        }
    }
    Ok(())
}

/// The user-program tests (built here; each runs on 1c/1n and 4c/2n).
fn user_cases() -> Result<Vec<UserCase>, String> {
    use Toolchain::*;
    let mut v = Vec::new();
    let mut prog = |name: &str,
                    src: &str,
                    tcs: &[Toolchain],
                    args: &[&str],
                    expect: Expect|
     -> Result<(), String> {
        for &tc in tcs {
            let (bin, build_error) = match programs::build(src, tc) {
                Ok(b) => (b, None),
                Err(e) => (std::path::PathBuf::new(), Some(e)),
            };
            let guest = format!("/bin/{name}");
            let mut argv = vec![guest.clone()];
            argv.extend(args.iter().map(|s| s.to_string()));
            let label = if tcs.len() > 1 {
                format!("{name} ({tc:?})")
            } else {
                name.to_string()
            };
            let files = if build_error.is_none() {
                vec![(bin, guest)]
            } else {
                Vec::new()
            };
            v.push(UserCase {
                name: label,
                files,
                argv,
                expect,
                build_error,
            });
        }
        Ok(())
    };
    prog(
        "hello",
        "tests/programs/hello.c",
        &[Musl, MuslPie, Glibc, GlibcPie],
        &["a", "b c"],
        Expect::Host,
    )?;
    prog(
        "fs",
        "tests/programs/fs.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog(
        "mem",
        "tests/programs/mem.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog(
        "misc",
        "tests/programs/misc.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog(
        "badptr",
        "tests/programs/badptr.c",
        &[Musl],
        &[],
        Expect::Host,
    )?;
    prog(
        "enosys",
        "tests/programs/enosys.c",
        &[Musl],
        &[],
        Expect::Host,
    )?;
    prog(
        "fpu",
        "tests/programs/fpu.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog("segv", "tests/programs/segv.c", &[Musl], &[], Expect::Host)?;
    prog("ud", "tests/programs/ud.c", &[Musl], &[], Expect::Host)?;
    prog(
        "divzero",
        "tests/programs/divzero.c",
        &[Musl],
        &[],
        Expect::Host,
    )?;
    prog(
        "rust_std",
        "tests/programs/rust_std/main.rs",
        &[Rust],
        &["x", "y"],
        Expect::Host,
    )?;
    prog(
        "replicas",
        "tests/nros/replicas.c",
        &[Musl],
        &[],
        Expect::Guest(0, check_replicas),
    )?;
    prog(
        "procs",
        "tests/programs/procs.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog(
        "threads",
        "tests/programs/threads.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog(
        "rust_threads",
        "tests/programs/rust_threads/main.rs",
        &[Rust],
        &[],
        Expect::Host,
    )?;
    prog(
        "vmstress",
        "tests/nros/vmstress.c",
        &[Musl],
        &[],
        Expect::Guest(0, check_vmstress),
    )?;
    prog(
        "leak",
        "tests/nros/leak.c",
        &[Musl],
        &[],
        Expect::Guest(0, check_leak),
    )?;
    prog(
        "cow",
        "tests/programs/cow.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog(
        "affinity",
        "tests/programs/affinity.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog(
        "shm",
        "tests/programs/shm.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog(
        "spinsleep",
        "tests/programs/spinsleep.c",
        &[Musl, Glibc],
        &[],
        Expect::Host,
    )?;
    prog(
        "unmapped",
        "tests/programs/unmapped.c",
        &[Musl],
        &[],
        Expect::Host,
    )?;
    prog(
        "kernelmem",
        "tests/programs/kernelmem.c",
        &[Musl],
        &[],
        Expect::Host,
    )?;
    // Regression tests for bugs the fuzzer found (tests/fuzz/repro).
    for bug in [
        "tkill_group",
        "chmod_empty_path",
        "write_huge_len",
        "sigchld_missing",
        "futex_stale_timeout",
    ] {
        prog(
            bug,
            &format!("tests/fuzz/repro/{bug}.c"),
            &[Musl],
            &[],
            Expect::Host,
        )?;
    }
    prog(
        "retired",
        "tests/nros/retired.c",
        &[Musl],
        &[],
        Expect::Guest(0, check_retired),
    )?;
    prog(
        "cowmem",
        "tests/nros/cowmem.c",
        &[Musl],
        &[],
        Expect::Guest(0, check_cowmem),
    )?;
    prog(
        "exhaust",
        "tests/nros/exhaust.c",
        &[Musl],
        &[],
        Expect::Guest(0, check_exhaust),
    )?;
    let sh = |name: &str, script: &str| UserCase {
        name: name.to_string(),
        files: Vec::new(),
        argv: vec![
            "/bin/busybox".into(),
            "sh".into(),
            "-c".into(),
            script.into(),
        ],
        expect: Expect::Host,
        build_error: None,
    };
    v.push(sh(
        "busybox builtins",
        "for i in 1 2 3; do echo \"n=$i\"; done; x=$((6*7)); echo $x; test -d /tmp && echo tmp-is-dir; \
         printf '%s-%d\\n' a 5; cd /tmp && pwd; f() { echo \"f:$1\"; }; f arg; case abc in a*) echo match;; esac; \
         set -- p q r; echo \"$# $2\"; [ 3 -gt 2 ] && echo gt; echo \"${HOME:-none}\"; exit 5",
    ));
    v.push(sh(
        "busybox files",
        "cd /tmp || exit 1; echo hello > bb-f; echo world >> bb-f; \
         read first < bb-f; echo \"first=$first\"; while read l; do echo \"line:$l\"; done < bb-f; echo x > bb-g; \
         [ -f bb-g ] && echo g-exists; [ -d bb-f ] || echo not-a-dir; exec cat bb-f bb-g",
    ));
    v.push(sh(
        "busybox pipelines",
        "d=/tmp/bb-pipes-$$; rm -rf $d; mkdir -p $d && cd $d || exit 1; \\
         printf 'pear\\napple\\nfig\\napple\\nkiwi\\n' > fruit; \\
         sort fruit | uniq -c | sort -rn | head -2; wc -l < fruit; grep -c apple fruit; \\
         sed 's/a/A/g' fruit | tail -3; awk '{ n += length($0) } END { print n }' fruit; \\
         echo \"sum: $(md5sum < fruit)\"; (cd /; pwd); for f in one two; do echo $f > $f.txt; done; ls -1; \\
         mv one.txt three.txt; ls | tr '\\n' ' '; echo; rm two.txt; ls *.txt; \\
         x=$(echo nested $(echo deeper)); echo \"$x\"; cat fruit | while read l; do echo \"<$l>\"; done | head -n 2; \\
         { echo out; echo err >&2; } 2>/dev/null; ls nothing 2>/dev/null || echo missing; \\
         cd /; rm -rf $d; echo done",
    ));
    v.push(sh(
        "busybox jobs",
        "exec 2>/dev/null; sleep 20 & kill $!; wait; echo killed $?; sleep 20 & p=$!; kill $p; wait $p; echo rc=$?; \
         { trap 'echo got-chld' CHLD; true & wait; echo end; wait; } | sort; (exit 7) & wait $!; echo sub=$?; \
         sleep 0.1 & sleep 0.2 & wait; echo both; sh -c 'kill -9 $$'; echo nine=$?",
    ));
    Ok(v)
}

/// `cargo xtask run` without `--cmd`: busybox's shell on the serial
/// console, driven by typed input: a pipeline, ^C ending a foreground
/// program (SIGINT to the foreground process group), a background job
/// listed and killed, line editing (backspace), and `exit 3` powering off
/// with status 3.
fn interactive_shell(kernel: &std::path::Path) -> Result<(), String> {
    let spec = crate::initrd::Spec {
        adds: Vec::new(),
        cmd: Vec::new(),
        busybox: true,
    };
    let initrd = crate::initrd::write(&spec, "shell")?;
    let mut m = Machine::new(kernel.to_path_buf(), 4, 2);
    m.initrd = Some(initrd.clone());
    m.append = "quiet".into();
    m.quiet = true;
    m.timeout = Some(Duration::from_secs(60));
    let step = |marker: &str, send: &str| (marker.to_string(), send.as_bytes().to_vec());
    m.input = vec![
        step("# ", "echo hello | tr a-z A-Z\n"),
        step("HELLO", "sh -c 'echo sleeping; exec sleep 30'\n"),
        step("sleeping\r\n", "\x03"),
        step("# ", "echo rc=$?\n"),
        step("rc=", "sleep 30 &\n"),
        step("# ", "jobs\n"),
        step("Running", "kill %1\n"),
        step("# ", "wait; echo jobs-done\n"),
        step("jobs-done", "echo abX\x7fc\n"),
        step("abc", "exit 3\n"),
    ];
    let out = qemu::run(&m, true, std::env::var_os("NROS_SHELL_ECHO").is_some());
    let _ = std::fs::remove_file(&initrd);
    let text = out.output.replace('\r', "");
    let fail = |why: &str| {
        Err(format!(
            "{why} (status {})\n---- console ----\n{text}\n----",
            out.status
        ))
    };
    for want in [
        "HELLO\n",
        "rc=130\n",
        "Running",
        "Terminated",
        "jobs-done\n",
        "abc\n",
    ] {
        if !text.contains(want) {
            return fail(&format!("no `{}` on the console", want.trim_end()));
        }
    }
    if out.status != 3 {
        return fail("`exit 3` did not end the machine with status 3");
    }
    Ok(())
}

fn check_exhaust(out: &str) -> Result<(), String> {
    out.contains("exhaustion ok")
        .then_some(())
        .ok_or_else(|| format!("resource exhaustion not survived:\n{out}"))
}

fn check_cowmem(out: &str) -> Result<(), String> {
    out.contains("cow memory ok")
        .then_some(())
        .ok_or_else(|| format!("copy-on-write memory accounting off:\n{out}"))
}

fn check_leak(out: &str) -> Result<(), String> {
    out.contains("no leak")
        .then_some(())
        .ok_or_else(|| format!("memory not returned:\n{out}"))
}

fn check_retired(out: &str) -> Result<(), String> {
    out.contains("released")
        .then_some(())
        .ok_or_else(|| format!("retired page tables held back:\n{out}"))
}

fn check_vmstress(out: &str) -> Result<(), String> {
    for want in ["verified", "equal"] {
        if !out.contains(want) {
            return Err(format!("no `{want}` in:\n{out}"));
        }
    }
    Ok(())
}

fn check_replicas(out: &str) -> Result<(), String> {
    out.lines()
        .any(|l| l.starts_with("replicas: ") && l.ends_with(" equal"))
        .then_some(())
        .ok_or_else(|| format!("no `replicas: N equal` line in:\n{out}"))
}

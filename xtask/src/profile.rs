//! `cargo xtask bench --profile N`: where does the kernel's time go?
//!
//! A sampling profiler that needs nothing inside the guest: while one
//! benchmark runs on our kernel, it asks QEMU's monitor (a Unix socket) N
//! times for every vCPU's registers (`info registers -a`), walks each kernel
//! stack through the frame-pointer chain (`x /2gx rbp`; the kernel is built
//! with frame pointers) and symbolizes the addresses with `addr2line`.
//! Under TCG the monitor stops a vCPU between translated blocks, so a sample
//! lands at a block boundary: fine-grained attribution inside a function is
//! approximate, the split between functions and callers is not.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const KERNEL_BASE: u64 = 0xffff_8000_0000_0000;

/// One vCPU sample: the program counter, then return addresses outwards.
type Stack = Vec<u64>;

struct Monitor {
    s: UnixStream,
}

impl Monitor {
    fn connect(path: &Path, within: Duration) -> Option<Monitor> {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Ok(s) = UnixStream::connect(path) {
                // Drain the greeting and its prompt, then talk.
                s.set_read_timeout(Some(Duration::from_millis(300))).ok()?;
                let mut junk = [0u8; 4096];
                let mut s2 = &s;
                while matches!(s2.read(&mut junk), Ok(n) if n > 0) {}
                s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                return Some(Monitor { s });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Send a command; the reply up to the next `(qemu)` prompt.
    fn cmd(&mut self, c: &str) -> Option<String> {
        self.s.write_all(format!("{c}\n").as_bytes()).ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            let n = self.s.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.ends_with(b"(qemu) ") {
                break;
            }
        }
        Some(String::from_utf8_lossy(&buf).into_owned())
    }
}

/// `RIP=...` and `RBP=...` of every vCPU in an `info registers -a` reply.
fn registers(reply: &str) -> Vec<(u64, u64)> {
    let hex = |part: &str, key: &str| {
        part.split(key)
            .nth(1)
            .and_then(|r| u64::from_str_radix(r.get(..16)?, 16).ok())
    };
    reply
        .split("CPU#")
        .skip(1)
        .filter_map(|part| Some((hex(part, "RIP=")?, hex(part, "RBP=")?)))
        .collect()
}

/// The two quadwords an `x /2gx` reply shows (after the echoed command).
fn two_words(reply: &str) -> Option<(u64, u64)> {
    let line = reply.lines().rev().find(|l| l.contains(": 0x"))?;
    let mut w = line
        .split(": ")
        .nth(1)?
        .split_whitespace()
        .filter_map(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok());
    Some((w.next()?, w.next()?))
}

/// Take `samples` samples from the monitor at `sock` (connecting within a
/// minute, starting after `warmup`); stops early when QEMU goes away.
pub fn sample(sock: &Path, samples: usize, warmup: Duration) -> Vec<Stack> {
    let Some(mut m) = Monitor::connect(sock, Duration::from_secs(60)) else {
        return Vec::new();
    };
    std::thread::sleep(warmup);
    let mut out = Vec::new();
    for i in 0..samples {
        let Some(reply) = m.cmd("info registers -a") else {
            break;
        };
        for (cpu, (rip, mut rbp)) in registers(&reply).into_iter().enumerate() {
            let mut st = vec![rip];
            if rip >= KERNEL_BASE && m.cmd(&format!("cpu {cpu}")).is_some() {
                for _ in 0..12 {
                    if rbp < KERNEL_BASE {
                        break;
                    }
                    let Some((next, ret)) = m
                        .cmd(&format!("x /2gx {rbp:#x}"))
                        .and_then(|r| two_words(&r))
                    else {
                        break;
                    };
                    if ret < KERNEL_BASE {
                        break;
                    }
                    st.push(ret - 1);
                    rbp = next;
                }
            }
            out.push(st);
        }
        if i % 50 == 49 {
            eprintln!("xtask profile: {} samples", i + 1);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    out
}

/// Name each kernel address: the outermost inlined frame that is not in
/// `core`/`alloc` (so `atomic_load` inside `smp::wait` counts as `wait`).
fn symbolize(kernel: &Path, addrs: &[u64]) -> HashMap<u64, String> {
    let mut names = HashMap::new();
    for chunk in addrs.chunks(200) {
        let out = Command::new("addr2line")
            .arg("-f")
            .arg("-C")
            .arg("-i")
            .arg("-a")
            .arg("-e")
            .arg(kernel)
            .args(chunk.iter().map(|a| format!("{a:#x}")))
            .output();
        let Ok(out) = out else { break };
        let text = String::from_utf8_lossy(&out.stdout);
        // With -a each address starts a group: "0x...", then (function,
        // file:line) pairs from the innermost inlined frame outwards.
        let mut cur: Option<u64> = None;
        let mut fns: Vec<String> = Vec::new();
        let mut flush = |cur: Option<u64>, fns: &mut Vec<String>| {
            if let Some(a) = cur {
                let own = fns.iter().find(|f| {
                    !(f.starts_with("core::")
                        || f.starts_with("<core::")
                        || f.starts_with("alloc::")
                        || f.starts_with("<alloc::"))
                });
                let name = own.or(fns.last()).cloned().unwrap_or_else(|| "??".into());
                names.insert(a, name);
            }
            fns.clear();
        };
        let mut lines = text.lines();
        while let Some(l) = lines.next() {
            if let Some(h) = l.strip_prefix("0x") {
                flush(cur, &mut fns);
                cur = u64::from_str_radix(h, 16).ok();
            } else {
                fns.push(l.to_string());
                lines.next(); // file:line
            }
        }
        flush(cur, &mut fns);
    }
    names
}

/// The report: leaf functions, then call chains (three frames).
pub fn report(kernel: &Path, stacks: &[Stack], top: usize) -> String {
    let mut addrs: Vec<u64> = stacks
        .iter()
        .flatten()
        .copied()
        .filter(|&a| a >= KERNEL_BASE)
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    let names = symbolize(kernel, &addrs);
    let name = |a: &u64| {
        if *a < KERNEL_BASE {
            "(user mode)".to_string()
        } else {
            let n = names.get(a).cloned().unwrap_or_else(|| "??".into());
            if n.len() > 100 {
                format!(
                    "{}...",
                    &n[..n.char_indices().nth(97).map_or(n.len(), |(i, _)| i)]
                )
            } else {
                n
            }
        }
    };
    let mut leaf: BTreeMap<String, usize> = BTreeMap::new();
    let mut chain: BTreeMap<String, usize> = BTreeMap::new();
    for st in stacks {
        let ns: Vec<String> = st.iter().map(name).collect();
        *leaf.entry(ns[0].clone()).or_default() += 1;
        let mut c: Vec<String> = Vec::new();
        for n in ns {
            if c.last() != Some(&n) {
                c.push(n);
            }
        }
        c.truncate(3);
        *chain.entry(c.join(" <- ")).or_default() += 1;
    }
    let total = stacks.len().max(1) as f64;
    let table = |m: BTreeMap<String, usize>| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter()
            .take(top)
            .map(|(n, c)| format!("{:5.1}%  {n}\n", 100.0 * c as f64 / total))
            .collect::<String>()
    };
    format!(
        "{} vCPU samples\n\nwhere (innermost function):\n{}\ncall chains (innermost first):\n{}",
        stacks.len(),
        table(leaf),
        table(chain)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_monitor_replies() {
        let regs = "info registers -a\r\n\r\nCPU#0\r\nRAX=0000000000000000 RBX=0\r\nRSI=1 RDI=2 RBP=ffffc00000020110 RSP=ffffc000000200d0\r\nRIP=ffffffff80159394 RFL=00000002\r\n\r\nCPU#1\r\nRBP=0000000000000000 RSP=0\r\nRIP=0000000000401000 RFL=2\r\n(qemu) ";
        assert_eq!(
            registers(regs),
            vec![
                (0xffff_ffff_8015_9394, 0xffff_c000_0002_0110),
                (0x40_1000, 0)
            ]
        );
        let x = "x /2gx 0xffffc00000020110\r\nffffc00000020110: 0xffffc00000020170 0xffffffff80159394\r\n(qemu) ";
        assert_eq!(
            two_words(x),
            Some((0xffff_c000_0002_0170, 0xffff_ffff_8015_9394))
        );
    }
}

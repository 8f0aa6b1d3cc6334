//! rust_std: a Rust std program (statically linked against glibc).
//!
//! Build: rustc --edition 2021 -C target-feature=+crt-static -O -o rust_std main.rs
//! Run with a few arguments (e.g. `one "two words" 3`); exits with status 7.
//! No threads (they come with clone, in the next issue). Uses a scratch
//! directory /tmp/rust-std-<pid> (removed at the end).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn check(failures: &mut u32, what: &str, cond: bool) {
    println!("{what}: {}", if cond { "yes" } else { "no (CHECK FAILED)" });
    if !cond {
        *failures += 1;
    }
}

fn args(failures: &mut u32) {
    println!("--- args");
    let args: Vec<String> = std::env::args().collect();
    let prog = Path::new(&args[0]).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    println!("argc={} argv[0] basename={prog}", args.len());
    for (i, a) in args.iter().enumerate().skip(1) {
        println!("argv[{i}]={a:?} len={}", a.len());
    }
    let exe = std::env::current_exe();
    check(failures, "current_exe ok", exe.is_ok());
    if let Ok(e) = exe {
        println!("current_exe basename={}", e.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    }
}

fn filesystem(failures: &mut u32) -> std::io::Result<()> {
    println!("--- fs");
    let dir = format!("/tmp/rust-std-{}", std::process::id());
    let dir = Path::new(&dir);
    fs::create_dir(dir)?;
    fs::create_dir_all(dir.join("a/b/c"))?;
    let f = dir.join("a/file.txt");
    fs::write(&f, b"first line\nsecond line\n")?;
    let s = fs::read_to_string(&f)?;
    println!("read back {} bytes, {} lines", s.len(), s.lines().count());
    {
        let mut h = fs::OpenOptions::new().append(true).open(&f)?;
        writeln!(h, "appended {}", 42)?;
    }
    {
        let mut h = fs::OpenOptions::new().read(true).write(true).open(&f)?;
        h.seek(SeekFrom::Start(6))?;
        h.write_all(b"LINE")?;
        let end = h.seek(SeekFrom::End(0))?;
        println!("size via seek: {end}");
        h.seek(SeekFrom::Start(0))?;
        let mut all = String::new();
        h.read_to_string(&mut all)?;
        print!("content:\n{all}");
    }
    let md = fs::metadata(&f)?;
    println!("metadata: is_file={} is_dir={} len={}", md.is_file(), md.is_dir(), md.len());
    check(failures, "modified time readable", md.modified().is_ok());
    let g = dir.join("a/b/renamed.txt");
    fs::rename(&f, &g)?;
    check(failures, "old name gone after rename", !f.exists());
    check(failures, "new name exists", g.exists());
    fs::copy(&g, dir.join("a/b/c/copy.txt"))?;
    std::os::unix::fs::symlink("renamed.txt", dir.join("a/b/link"))?;
    println!("read_link: {:?}", fs::read_link(dir.join("a/b/link"))?);
    println!("through link: {} bytes", fs::read(dir.join("a/b/link"))?.len());
    let mut names: Vec<String> = fs::read_dir(dir.join("a/b"))?
        .map(|e| {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let kind = if t.is_symlink() { "l" } else if t.is_dir() { "d" } else { "-" };
            format!("{}:{kind}", e.file_name().to_string_lossy())
        })
        .collect();
    names.sort();
    println!("read_dir a/b: {}", names.join(" "));
    match fs::remove_dir(dir.join("a")) {
        Ok(()) => check(failures, "remove_dir(non-empty) fails", false),
        Err(e) => println!("remove_dir(non-empty): error kind {:?} os {:?}", e.kind(), e.raw_os_error()),
    }
    match fs::read("/nonexistent/file") {
        Ok(_) => check(failures, "read(missing) fails", false),
        Err(e) => println!("read(missing): error kind {:?} os {:?}", e.kind(), e.raw_os_error()),
    }
    match fs::create_dir(dir) {
        Ok(()) => check(failures, "create_dir(existing) fails", false),
        Err(e) => println!("create_dir(existing): error kind {:?} os {:?}", e.kind(), e.raw_os_error()),
    }
    let cwd = std::env::current_dir()?;
    std::env::set_current_dir(dir.join("a/b"))?;
    check(failures, "relative read after set_current_dir", fs::read_to_string("renamed.txt").is_ok());
    let here = std::env::current_dir()?;
    check(failures, "current_dir ends with a/b", here.ends_with("a/b"));
    std::env::set_current_dir(&cwd)?;
    fs::remove_file(dir.join("a/b/link"))?;
    fs::remove_dir_all(dir.join("a"))?;
    fs::remove_dir(dir)?;
    check(failures, "scratch directory removed", !dir.exists());
    Ok(())
}

fn collections() {
    println!("--- collections");
    // a deterministic pseudo-random sequence
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let v: Vec<u64> = (0..100_000).map(|_| next() % 1_000_000).collect();
    let sum: u64 = v.iter().sum();
    let max = v.iter().max().unwrap();
    let mut sorted = v.clone();
    sorted.sort_unstable();
    sorted.dedup();
    println!("vec: len={} sum={sum} max={max} distinct={}", v.len(), sorted.len());
    let mut hm: HashMap<u64, u32> = HashMap::new();
    for &k in &v {
        *hm.entry(k % 1000).or_insert(0) += 1;
    }
    let mut top: Vec<(u64, u32)> = hm.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("hashmap: top5={:?}", &top[..5]);
    let mut bt: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let text = "the quick brown fox jumps over the lazy dog and the dog sleeps while the fox runs";
    for (i, w) in text.split_whitespace().enumerate() {
        bt.entry(w.to_string()).or_default().push(i);
    }
    for (w, pos) in bt.iter().filter(|(_, p)| p.len() > 1) {
        println!("btreemap: {w} -> {pos:?}");
    }
    let first = bt.keys().next().unwrap();
    let last = bt.keys().next_back().unwrap();
    println!("btreemap: {} keys, first={first} last={last}", bt.len());
    let set: BTreeSet<u64> = v.iter().map(|x| x % 97).collect();
    println!("btreeset: len={} range(10..15)={:?}", set.len(), set.range(10..15).collect::<Vec<_>>());
    let mut dq: VecDeque<u32> = (1..=10).collect();
    dq.rotate_left(3);
    dq.push_front(0);
    println!("vecdeque: {dq:?}");
    // a lot of small heap objects
    let boxes: Vec<Box<[u8]>> = (0..20_000).map(|i| vec![(i % 251) as u8; i % 300 + 1].into_boxed_slice()).collect();
    let total: usize = boxes.iter().map(|b| b.len()).sum();
    let chk: u64 = boxes.iter().map(|b| b.iter().map(|&x| x as u64).sum::<u64>()).sum();
    println!("boxes: total={total} checksum={chk}");
    // a big allocation (mmap'd by malloc)
    let big = vec![1u32; 4 << 20];
    println!("big vec sum={}", big.iter().map(|&x| x as u64).sum::<u64>());
}

fn formatting() {
    println!("--- formatting");
    let mut s = String::new();
    write!(s, "{:>8}|{:<8}|{:^8}|", "right", "left", "mid").unwrap();
    write!(s, "{:08.3}|{:+}|{:#x}|{:#b}|{:e}", 3.14159, 17, 255, 5, 1234.5).unwrap();
    println!("{s}");
    println!("{:?} {:?} {:?}", Some("x"), None::<i32>, Ok::<u8, ()>(3));
    #[derive(Debug)]
    #[allow(dead_code)]
    struct P {
        x: i32,
        name: &'static str,
    }
    println!("{:?}", P { x: -1, name: "p" });
    println!("{:#?}", P { x: 2, name: "q" });
    println!("{}", f64::MAX);
    println!("{} {} {}", f64::NAN, f64::INFINITY, -0.0f64);
    println!("{}", u128::MAX);
    let words: Vec<String> = "a,b,,c".split(',').map(str::to_uppercase).collect();
    println!("{words:?} joined={}", words.join("-"));
    println!("unicode: {} chars, {} bytes", "héllo wörld ✓".chars().count(), "héllo wörld ✓".len());
}

fn time(failures: &mut u32) {
    println!("--- time");
    let t0 = Instant::now();
    let mut prev = t0;
    let mut ok = true;
    for _ in 0..1000 {
        let now = Instant::now();
        if now < prev {
            ok = false;
        }
        prev = now;
    }
    check(failures, "Instant is monotonic over 1000 reads", ok);
    std::thread::sleep(Duration::from_millis(20));
    let el = t0.elapsed();
    check(failures, "sleep(20 ms) took >= 20 ms", el >= Duration::from_millis(20));
    check(failures, "and < 5 s", el < Duration::from_secs(5));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    check(failures, "SystemTime after 2020", now > 1_577_836_800);
}

fn main() {
    let mut failures = 0;
    args(&mut failures);
    if let Err(e) = filesystem(&mut failures) {
        println!("fs error: {e} (CHECK FAILED)");
        failures += 1;
    }
    collections();
    formatting();
    time(&mut failures);
    println!("failures: {failures}");
    std::io::stdout().flush().unwrap();
    std::process::exit(if failures == 0 { 7 } else { 1 });
}

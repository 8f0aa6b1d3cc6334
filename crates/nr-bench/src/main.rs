//! nr-bench: throughput of our node replication (`crates/nr`) against the
//! reference `node-replication` 0.1.1, `RwLock<HashMap>`, `Mutex<HashMap>` and
//! `DashMap` on one hash-map workload. See README.md.

mod alloc;
mod contenders;
mod report;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use contenders::{Kind, LogCfg, RunParams};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const USAGE: &str = "\
usage: nr-bench [--duration-ms N] [--repeats N] [--keys N] [--out DIR] [--smoke]
                [--threads LIST] [--replicas LIST] [--writes LIST]
                [--contenders LIST] [--log-bytes N] [--warmup-ms N] [--no-plot]
                [--profile-ops N]

  --duration-ms N   length of one timed run (default 1000; smoke 50)
  --repeats N       timed runs per contender and cell (default 5; smoke 1)
  --keys N          keys prefilled into the map (default 1000000; smoke 10000)
  --out DIR         output folder (default results/nr-bench)
  --smoke           tiny, fast run of every cell for CI; exit 1 on a missing number
  --threads LIST    e.g. 1,2 (default 1, 2, powers of two and the core count)
  --replicas LIST   e.g. 1,2 (default 1,2); cells need threads >= replicas
  --writes LIST     write percentages (default 0,10,100)
  --contenders LIST subset of ours,nr-0.1.1,RwLock,Mutex,DashMap (default all)
  --log-bytes N     log size asked of node-replication 0.1.1 (default 2 MiB);
                    ours gets the same number of entries
  --warmup-ms N     untimed run per contender and cell before the repeats
                    (default duration/5, at most 200)
  --no-plot         skip the PNG
  --profile-ops N   each thread runs exactly N operations instead of a timed
                    run (for valgrind --tool=callgrind; the Mops are then
                    meaningless, compare instructions per operation)";

pub struct Config {
    pub duration: Duration,
    pub warmup: Duration,
    pub repeats: usize,
    pub keys: u64,
    pub out: PathBuf,
    pub smoke: bool,
    pub threads: Vec<usize>,
    pub replicas: Vec<usize>,
    pub writes: Vec<u32>,
    pub contenders: Vec<Kind>,
    pub log: LogCfg,
    pub plot: bool,
    pub ops_limit: Option<u64>,
}

/// One benchmark cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    pub threads: usize,
    pub replicas: usize,
    pub write_pct: u32,
}

impl Cell {
    pub fn label(&self) -> String {
        format!("{}T/{}R/{}%w", self.threads, self.replicas, self.write_pct)
    }
}

fn list<T: std::str::FromStr>(s: &str, what: &str) -> Result<Vec<T>, String> {
    s.split(',')
        .map(|x| x.trim().parse().map_err(|_| format!("bad {what}: {x:?}")))
        .collect()
}

fn parse_args() -> Result<Config, String> {
    let mut args = std::env::args().skip(1);
    let (mut duration, mut repeats, mut keys, mut warmup) = (None, None, None, None);
    let (mut threads, mut replicas, mut writes, mut contenders) = (None, None, None, None);
    let mut out = PathBuf::from("results/nr-bench");
    let (mut smoke, mut plot, mut log_bytes) = (false, true, 2usize << 20);
    let mut ops_limit = None;
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--duration-ms" => duration = Some(val()?.parse::<u64>().map_err(|e| e.to_string())?),
            "--warmup-ms" => warmup = Some(val()?.parse::<u64>().map_err(|e| e.to_string())?),
            "--repeats" => repeats = Some(val()?.parse::<usize>().map_err(|e| e.to_string())?),
            "--keys" => keys = Some(val()?.parse::<u64>().map_err(|e| e.to_string())?),
            "--out" => out = PathBuf::from(val()?),
            "--threads" => threads = Some(list::<usize>(&val()?, "thread count")?),
            "--replicas" => replicas = Some(list::<usize>(&val()?, "replica count")?),
            "--writes" => writes = Some(list::<u32>(&val()?, "write percentage")?),
            "--contenders" => {
                let v = val()?;
                let ks: Option<Vec<Kind>> = v.split(',').map(|s| Kind::parse(s.trim())).collect();
                contenders = Some(ks.ok_or_else(|| format!("bad --contenders {v:?}"))?);
            }
            "--log-bytes" => {
                log_bytes = val()?
                    .parse()
                    .map_err(|e: std::num::ParseIntError| e.to_string())?
            }
            "--profile-ops" => ops_limit = Some(val()?.parse::<u64>().map_err(|e| e.to_string())?),
            "--smoke" => smoke = true,
            "--no-plot" => plot = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    let duration = Duration::from_millis(duration.unwrap_or(if smoke { 50 } else { 1000 }));
    let warmup = warmup
        .map(Duration::from_millis)
        .unwrap_or((duration / 5).min(Duration::from_millis(200)));
    let repeats = repeats.unwrap_or(if smoke { 1 } else { 5 });
    let keys = keys.unwrap_or(if smoke { 10_000 } else { 1_000_000 });
    let threads = threads.unwrap_or_else(default_threads);
    let replicas = replicas.unwrap_or_else(|| vec![1, 2]);
    let writes = writes.unwrap_or_else(|| vec![0, 10, 100]);
    if repeats == 0
        || keys == 0
        || threads.contains(&0)
        || replicas.contains(&0)
        || writes.iter().any(|&w| w > 100)
    {
        return Err("repeats, keys, threads and replicas must be > 0 and writes <= 100".into());
    }
    if keys > 1 << 32 {
        return Err("--keys must be at most 2^32".into());
    }
    Ok(Config {
        duration,
        warmup,
        repeats,
        keys,
        out,
        smoke,
        threads,
        replicas,
        writes,
        contenders: contenders.unwrap_or_else(|| Kind::ALL.to_vec()),
        log: LogCfg::new(log_bytes),
        plot,
        ops_limit,
    })
}

/// 1 and 2 always, then powers of two up to the core count, and the count.
fn default_threads() -> Vec<usize> {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut v = vec![1, 2];
    let mut p = 4;
    while p <= n {
        v.push(p);
        p *= 2;
    }
    if !v.contains(&n) {
        v.push(n);
    }
    v
}

fn cells(cfg: &Config) -> Vec<Cell> {
    let mut v = Vec::new();
    for &threads in &cfg.threads {
        for &replicas in &cfg.replicas {
            if threads < replicas {
                continue;
            }
            for &write_pct in &cfg.writes {
                v.push(Cell {
                    threads,
                    replicas,
                    write_pct,
                });
            }
        }
    }
    v
}

/// One measured value: contender, cell, repeat.
pub struct Record {
    pub kind: Kind,
    pub cell: Cell,
    pub repeat: usize,
    pub ops: u64,
    pub secs: f64,
    pub mops: f64,
}

fn main() -> ExitCode {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nr-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let t0 = Instant::now();
    let cells = cells(&cfg);
    eprintln!(
        "nr-bench: {} cells x {} contenders x {} repeats, {} ms each, {} keys, log {} entries (nr-0.1.1 asked for {} bytes), {} cores{}",
        cells.len(),
        cfg.contenders.len(),
        cfg.repeats,
        cfg.duration.as_millis(),
        cfg.keys,
        cfg.log.entries,
        cfg.log.ref_bytes,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        if cfg.smoke { " [smoke]" } else { "" }
    );

    let mem = report::memory_report(&cfg);
    eprintln!("{mem}");

    let mut records = Vec::new();
    let nc = cfg.contenders.len();
    for (ci, &cell) in cells.iter().enumerate() {
        let tag = format!("[cell {}/{} {}]", ci + 1, cells.len(), cell.label());
        let tb = Instant::now();
        let insts: Vec<_> = cfg
            .contenders
            .iter()
            .map(|&k| contenders::build(k, cfg.keys, cell.threads, cell.replicas, cfg.log))
            .collect();
        eprintln!(
            "{tag} built {nc} contenders in {:.1}s",
            tb.elapsed().as_secs_f64()
        );
        let base_seed = 0x5eed_0000_0000 ^ ((ci as u64) << 20);
        if !cfg.warmup.is_zero() {
            for inst in &insts {
                let p = RunParams {
                    keys: cfg.keys,
                    write_pct: cell.write_pct,
                    duration: cfg.warmup,
                    seed: base_seed ^ 0xffff,
                    ops_limit: None,
                };
                inst.run(&p);
            }
        }
        for rep in 0..cfg.repeats {
            // Interleave: every round runs each contender once, in forward
            // order on even rounds and reverse order on odd ones (A B C D E,
            // E D C B A, ...): neighbours stay neighbours (ours next to the
            // reference) and no one always runs first.
            for j in 0..nc {
                let i = if rep % 2 == 0 { j } else { nc - 1 - j };
                let kind = cfg.contenders[i];
                let p = RunParams {
                    keys: cfg.keys,
                    write_pct: cell.write_pct,
                    duration: cfg.duration,
                    seed: base_seed ^ rep as u64,
                    ops_limit: cfg.ops_limit,
                };
                let s = insts[i].run(&p);
                let mops = s.mops();
                eprintln!(
                    "{tag} rep {}/{} {:<8} {:>8.3} Mops/s",
                    rep + 1,
                    cfg.repeats,
                    kind.name(),
                    mops
                );
                records.push(Record {
                    kind,
                    cell,
                    repeat: rep,
                    ops: s.ops(),
                    secs: s.secs(),
                    mops,
                });
            }
        }
        drop(insts);
    }

    let summary = report::summarize(&cfg, &cells, &records);
    let table = report::table(&cfg, &cells, &summary, &records);
    let targets = report::targets(&cfg, &cells, &summary);
    let elapsed = t0.elapsed().as_secs_f64();
    println!("{table}\n{targets}\n{mem}");
    println!("runtime: {elapsed:.1} s");

    let files = match report::write_files(
        &cfg,
        &cells,
        &records,
        &summary,
        &format!("{table}\n{targets}\n{mem}\nruntime: {elapsed:.1} s\n"),
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("nr-bench: writing results failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("files:");
    for f in files {
        println!("  {}", std::fs::canonicalize(&f).unwrap_or(f).display());
    }

    let missing = report::missing(&cfg, &cells, &summary);
    if !missing.is_empty() {
        eprintln!("nr-bench: no number for: {}", missing.join(", "));
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

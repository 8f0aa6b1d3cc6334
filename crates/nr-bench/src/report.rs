//! Statistics, the stdout table, the target check, the memory report and
//! the files (CSV, text, PNG).

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::contenders::{build_ours, build_reference, Kind};
use crate::workload::prefilled;
use crate::{alloc, Cell, Config, Record};

#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// `summary[cell][contender]`, indices as in `cells` and `cfg.contenders`.
pub type Summary = Vec<Vec<Option<Stat>>>;

fn stat(mut v: Vec<f64>) -> Option<Stat> {
    v.retain(|x| x.is_finite() && *x > 0.0);
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stat {
        n,
        median,
        min: v[0],
        max: v[n - 1],
    })
}

pub fn summarize(cfg: &Config, cells: &[Cell], records: &[Record]) -> Summary {
    cells
        .iter()
        .map(|c| {
            cfg.contenders
                .iter()
                .map(|&k| {
                    stat(
                        records
                            .iter()
                            .filter(|r| r.cell == *c && r.kind == k)
                            .map(|r| r.mops)
                            .collect(),
                    )
                })
                .collect()
        })
        .collect()
}

fn get(cfg: &Config, row: &[Option<Stat>], k: Kind) -> Option<Stat> {
    cfg.contenders
        .iter()
        .position(|&c| c == k)
        .and_then(|i| row[i])
}

fn ratio(cfg: &Config, row: &[Option<Stat>], a: Kind, b: Kind) -> Option<f64> {
    Some(get(cfg, row, a)?.median / get(cfg, row, b)?.median)
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.2}x"))
}

/// Median over rounds of ours/reference measured in the same round (they
/// run back to back), a noise-robust companion to the ratio of medians.
pub fn paired_ratio(records: &[Record], cell: Cell) -> Option<f64> {
    let one = |k: Kind, rep: usize| {
        records
            .iter()
            .find(|r| r.cell == cell && r.kind == k && r.repeat == rep)
            .map(|r| r.mops)
    };
    let reps = records
        .iter()
        .filter(|r| r.cell == cell)
        .map(|r| r.repeat + 1)
        .max()?;
    let v: Vec<f64> = (0..reps)
        .filter_map(|rep| Some(one(Kind::Ours, rep)? / one(Kind::Reference, rep)?))
        .collect();
    stat(v).map(|s| s.median)
}

pub fn table(cfg: &Config, cells: &[Cell], s: &Summary, records: &[Record]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "nr-bench: median Mops/s [min-max] over {} repeat(s) of {} ms; {} keys; ratios = ratio of medians;\n\
         paired = median over rounds of ours/ref from the same round",
        cfg.repeats,
        cfg.duration.as_millis(),
        cfg.keys
    );
    let _ = write!(o, "{:<7} {:>2} {:>2} {:>4}", "cell", "T", "R", "W%");
    for k in &cfg.contenders {
        let _ = write!(o, " | {:^23}", k.name());
    }
    let _ = writeln!(
        o,
        " | {:>8} | {:>6} | {:>11}",
        "ours/ref", "paired", "ours/RwLock"
    );
    let width = o.lines().last().map_or(0, str::len);
    let _ = writeln!(o, "{}", "-".repeat(width));
    for (ci, c) in cells.iter().enumerate() {
        let _ = write!(
            o,
            "{:<7} {:>2} {:>2} {:>4}",
            ci + 1,
            c.threads,
            c.replicas,
            c.write_pct
        );
        for st in &s[ci] {
            let v = st.map_or_else(
                || "no number".to_string(),
                |t| format!("{:7.2} [{:.2}-{:.2}]", t.median, t.min, t.max),
            );
            let _ = write!(o, " | {v:<23}");
        }
        let _ = writeln!(
            o,
            " | {:>8} | {:>6} | {:>11}",
            fmt_ratio(ratio(cfg, &s[ci], Kind::Ours, Kind::Reference)),
            fmt_ratio(paired_ratio(records, *c)),
            fmt_ratio(ratio(cfg, &s[ci], Kind::Ours, Kind::RwLock))
        );
    }
    o
}

pub fn targets(cfg: &Config, cells: &[Cell], s: &Summary) -> String {
    let mut o = String::from("targets:\n");
    let verdict = |ok: bool| if ok { "MET   " } else { "MISSED" };
    // 1. ours >= reference everywhere.
    let mut worse = Vec::new();
    let mut seen = 0;
    for (ci, c) in cells.iter().enumerate() {
        if let Some(r) = ratio(cfg, &s[ci], Kind::Ours, Kind::Reference) {
            seen += 1;
            if r < 1.0 {
                worse.push(format!("{} ({r:.2}x)", c.label()));
            }
        }
    }
    if seen == 0 {
        o.push_str("  n/a     ours >= nr-0.1.1 in every cell (not measured)\n");
    } else {
        let _ = writeln!(
            o,
            "  {} ours >= nr-0.1.1 in every cell (median){}",
            verdict(worse.is_empty()),
            if worse.is_empty() {
                String::new()
            } else {
                format!(": below in {}", worse.join(", "))
            }
        );
    }
    // 2. 10 % writes, 2 threads, 2 replicas: >= 1.2x reference.
    let find = |t, r, w| {
        cells.iter().position(|c| {
            *c == Cell {
                threads: t,
                replicas: r,
                write_pct: w,
            }
        })
    };
    match find(2, 2, 10).and_then(|i| ratio(cfg, &s[i], Kind::Ours, Kind::Reference)) {
        Some(r) => {
            let _ = writeln!(
                o,
                "  {} 2T/2R/10%w ours >= 1.2x nr-0.1.1: {r:.2}x",
                verdict(r >= 1.2)
            );
        }
        None => o.push_str("  n/a     2T/2R/10%w ours >= 1.2x nr-0.1.1 (not measured)\n"),
    }
    // 3. 1 thread, 0 % writes: within 10 % of RwLock<HashMap>.
    match find(1, 1, 0).and_then(|i| ratio(cfg, &s[i], Kind::Ours, Kind::RwLock)) {
        Some(r) => {
            let _ = writeln!(
                o,
                "  {} 1T/1R/0%w ours >= 0.9x RwLock<HashMap>: {r:.2}x",
                verdict(r >= 0.9)
            );
        }
        None => o.push_str("  n/a     1T/1R/0%w ours within 10% of RwLock (not measured)\n"),
    }
    o
}

/// Cells and contenders that produced no number.
pub fn missing(cfg: &Config, cells: &[Cell], s: &Summary) -> Vec<String> {
    let mut v = Vec::new();
    for (ci, c) in cells.iter().enumerate() {
        for (ki, k) in cfg.contenders.iter().enumerate() {
            if s[ci][ki].is_none() {
                v.push(format!("{} {}", c.label(), k.name()));
            }
        }
    }
    v
}

fn mib(b: isize) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

/// Live heap bytes of each NR instance right after construction (log,
/// replicas, per-thread state, prefilled maps), measured with the counting
/// allocator, for every replica count of the run.
pub fn memory_report(cfg: &Config) -> String {
    let keys = cfg.keys;
    let (map, map_bytes) = alloc::measure(|| prefilled(keys));
    drop(map);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "memory: live heap after construction incl. prefill ({keys} keys; one prefilled HashMap = {} = {map_bytes} B; log {} entries)",
        mib(map_bytes),
        cfg.log.entries
    );
    let _ = writeln!(
        o,
        "  {:<9} {:>2} {:>14} {:>12}   {:>14} {:>12}",
        "contender", "R", "total B", "total", "minus R maps", ""
    );
    let mut replicas = cfg.replicas.clone();
    replicas.sort_unstable();
    replicas.dedup();
    let max_threads = cfg.threads.iter().copied().max().unwrap_or(1);
    for &r in &replicas {
        for &k in &cfg.contenders {
            let bytes = match k {
                Kind::Ours => {
                    let per = max_threads.div_ceil(r).max(1);
                    let (x, b) = alloc::measure(|| build_ours(keys, r, per, cfg.log));
                    drop(x);
                    b
                }
                Kind::Reference => {
                    let (x, b) = alloc::measure(|| build_reference(keys, r, cfg.log));
                    drop(x);
                    b
                }
                _ => continue,
            };
            let rest = bytes - r as isize * map_bytes;
            let _ = writeln!(
                o,
                "  {:<9} {:>2} {:>14} {:>12}   {:>14} {:>12}",
                k.name(),
                r,
                bytes,
                mib(bytes),
                rest,
                mib(rest)
            );
        }
    }
    o.push_str("  ('minus R maps' = log + NR bookkeeping: total minus R prefilled maps)\n");
    o
}

pub fn write_files(
    cfg: &Config,
    cells: &[Cell],
    records: &[Record],
    s: &Summary,
    text: &str,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&cfg.out)?;
    let mut files = Vec::new();

    let p = cfg.out.join("samples.csv");
    let mut csv = String::from("contender,threads,replicas,write_pct,repeat,ops,secs,mops\n");
    for r in records {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{:.6},{:.6}",
            r.kind.name(),
            r.cell.threads,
            r.cell.replicas,
            r.cell.write_pct,
            r.repeat,
            r.ops,
            r.secs,
            r.mops
        );
    }
    std::fs::write(&p, csv)?;
    files.push(p);

    let p = cfg.out.join("summary.csv");
    let mut csv = String::from("threads,replicas,write_pct,contender,n,median_mops,min_mops,max_mops,ratio_to_ref,paired_ours_ref\n");
    for (ci, c) in cells.iter().enumerate() {
        for (ki, k) in cfg.contenders.iter().enumerate() {
            let rr = ratio(cfg, &s[ci], *k, Kind::Reference)
                .map_or_else(String::new, |r| format!("{r:.4}"));
            let pr = paired_ratio(records, *c).map_or_else(String::new, |r| format!("{r:.4}"));
            match s[ci][ki] {
                Some(t) => {
                    let _ = writeln!(
                        csv,
                        "{},{},{},{},{},{:.6},{:.6},{:.6},{rr},{pr}",
                        c.threads,
                        c.replicas,
                        c.write_pct,
                        k.name(),
                        t.n,
                        t.median,
                        t.min,
                        t.max
                    );
                }
                None => {
                    let _ = writeln!(
                        csv,
                        "{},{},{},{},0,,,,,",
                        c.threads,
                        c.replicas,
                        c.write_pct,
                        k.name()
                    );
                }
            }
        }
    }
    std::fs::write(&p, csv)?;
    files.push(p);

    let p = cfg.out.join("summary.txt");
    std::fs::write(&p, text)?;
    files.push(p);

    if cfg.plot {
        let p = cfg.out.join("throughput.png");
        match crate::report::plot(cfg, cells, s, &p) {
            Ok(()) => files.push(p),
            Err(e) => eprintln!("nr-bench: plot failed: {e}"),
        }
    }
    Ok(files)
}

/// X axis of a bar panel: groups at 0, 1, .., n-1, with ticks only there.
struct GroupAxis(usize);

impl plotters::coord::ranged1d::Ranged for GroupAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v + 0.5) / self.0 as f64;
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: H) -> Vec<f64> {
        (0..self.0).map(|i| i as f64).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        -0.5..self.0 as f64 - 0.5
    }
}

fn color(k: Kind) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    match k {
        Kind::Ours => RGBColor(214, 39, 40),
        Kind::Reference => RGBColor(31, 119, 180),
        Kind::RwLock => RGBColor(44, 160, 44),
        Kind::Mutex => RGBColor(255, 127, 14),
        Kind::DashMap => RGBColor(148, 103, 189),
    }
}

/// Grouped bars (median) with min-max whiskers: one panel per write ratio,
/// one group per threads/replicas pair, ours/ref ratio above each group.
pub fn plot(
    cfg: &Config,
    cells: &[Cell],
    s: &Summary,
    path: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    use plotters::style::{register_font, FontStyle};

    // Embedded DejaVu Sans: no system fonts needed.
    register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "invalid embedded font")?;
    register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
        .map_err(|_| "invalid embedded font")?;

    let mut writes = cfg.writes.clone();
    writes.dedup();
    let groups = cells
        .iter()
        .filter(|c| c.write_pct == writes[0])
        .count()
        .max(1);
    let panel_w = (140 + 90 * groups as u32).max(420);
    let root = BitMapBackend::new(path, (panel_w * writes.len() as u32, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let m = cfg.contenders.len();
    let root = root.titled(
        &format!(
            "nr-bench: hash map, {} keys, uniform keys; median of {} x {} ms, whiskers min-max",
            cfg.keys,
            cfg.repeats,
            cfg.duration.as_millis()
        ),
        ("sans-serif", 20),
    )?;
    let (body, legend) = root.split_vertically(root.dim_in_pixel().1 - 36);
    for (j, &k) in cfg.contenders.iter().enumerate() {
        let step = (root.dim_in_pixel().0 as i32 / (m as i32 + 1)).min(150);
        let x = 60 + step * j as i32;
        legend.draw(&Rectangle::new([(x, 8), (x + 16, 24)], color(k).filled()))?;
        legend.draw(&Text::new(k.name(), (x + 22, 7), ("sans-serif", 16)))?;
    }
    let panels = body.split_evenly((1, writes.len()));
    for (&w, area) in writes.iter().zip(panels.iter()) {
        let idx: Vec<usize> = (0..cells.len())
            .filter(|&i| cells[i].write_pct == w)
            .collect();
        let n = idx.len();
        let ymax = idx
            .iter()
            .flat_map(|&i| s[i].iter().flatten().map(|t| t.max))
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.18;
        let labels: Vec<String> = idx
            .iter()
            .map(|&i| format!("{}T/{}R", cells[i].threads, cells[i].replicas))
            .collect();
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{w}% writes"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(GroupAxis(n), 0f64..ymax)?;
        let fmt_x = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&fmt_x)
            .y_labels(8)
            .light_line_style(WHITE)
            .x_desc("threads / replicas")
            .y_desc("Mops/s")
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .draw()?;
        let bw = 0.8 / m as f64;
        for (j, &k) in cfg.contenders.iter().enumerate() {
            let col = color(k);
            let bars: Vec<_> = idx
                .iter()
                .enumerate()
                .filter_map(|(g, &i)| s[i][j].map(|t| (g, t)))
                .map(|(g, t)| {
                    let x0 = g as f64 - 0.4 + j as f64 * bw;
                    Rectangle::new(
                        [(x0 + bw * 0.05, 0.0), (x0 + bw * 0.95, t.median)],
                        col.filled(),
                    )
                })
                .collect();
            chart.draw_series(bars)?;
            let whiskers: Vec<_> = idx
                .iter()
                .enumerate()
                .filter_map(|(g, &i)| s[i][j].map(|t| (g, t)))
                .map(|(g, t)| {
                    let xc = g as f64 - 0.4 + (j as f64 + 0.5) * bw;
                    PathElement::new(vec![(xc, t.min), (xc, t.max)], BLACK.stroke_width(2))
                })
                .collect();
            chart.draw_series(whiskers)?;
        }
        let texts: Vec<_> = idx
            .iter()
            .enumerate()
            .filter_map(|(g, &i)| ratio(cfg, &s[i], Kind::Ours, Kind::Reference).map(|r| (g, r)))
            .map(|(g, r)| {
                Text::new(
                    format!("ours/ref {r:.2}x"),
                    (g as f64 - 0.4, ymax * 0.97),
                    ("sans-serif", 13),
                )
            })
            .collect();
        chart.draw_series(texts)?;
    }
    root.present()?;
    Ok(())
}

//! Generated `/proc/nr` files: the replicas and their statistics.

use crate::state;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// `/proc/nr/replicas`: brings every replica up to date, then one line per
/// replica with the log index it has applied and the hash of its state
/// (process table, address spaces including page-table contents, file
/// system).
pub fn replicas() -> Vec<u8> {
    // Other cores may append to the log meanwhile (threads that are still
    // exiting, placements): hash every replica at the same log index, so
    // that equal states show equal hashes. Give up after a few tries and
    // show what there is (the indices then tell why hashes differ).
    let nodes = crate::topology().nodes.len();
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = (0..nodes)
            .map(|node| {
                let r = state::replica_of_node(node);
                (r, node, state::hash_of(r))
            })
            .collect();
        if seen.windows(2).all(|w| w[0].2 .0 == w[1].2 .0) {
            break;
        }
    }
    let mut out = String::new();
    for (r, node, (applied, hash)) in seen {
        out.push_str(&format!(
            "replica {r} node {node} applied {applied} hash {hash:016x}\n"
        ));
    }
    out.into_bytes()
}

/// `/proc/nr/threads`: where every live thread runs, from the replicated
/// placement (`tid pid core affinity-mask`).
pub fn threads() -> Vec<u8> {
    let mut out = String::from("tid pid core affinity\n");
    if let Ok(kstate::Resp::Placements(v)) = state::execute(kstate::ReadOp::Placements) {
        for (pid, tid, pl) in v {
            out.push_str(&format!("{tid} {pid} {} {:#x}\n", pl.core, pl.affinity));
        }
    }
    out.into_bytes()
}

/// `/proc/nr/stats`: the nr counters of every replica, the log indices and
/// the page-table frames waiting for TLB flushes before they are freed.
pub fn stats() -> Vec<u8> {
    let (head, tail, ctail) = state::log_indices();
    let mut out = format!(
        "log head {head} tail {tail} ctail {ctail}\nretired page tables {}\n",
        crate::mem::retired_count()
    );
    for r in 0..state::replicas() {
        let s = state::stats(r);
        out.push_str(&format!(
            "replica {r} ops {} batches {} avg_batch {:.2} reads {} reader_helps {} log_full {} helps_given {} helped_by_others {}\n",
            s.ops_appended,
            s.batches,
            s.avg_batch_size(),
            s.reads,
            s.reader_helps,
            s.log_full,
            s.helps_given,
            s.helped_by_others
        ));
    }
    out.into_bytes()
}

/// `/proc/meminfo` (the first lines of Linux's format): total and free
/// physical memory. Reading it first brings every replica up to date, so
/// page tables of exited processes are freed on every node before counting
/// (after the cores that may still cache them have flushed their TLBs).
pub fn meminfo() -> Vec<u8> {
    for r in 0..state::replicas() {
        state::sync(r);
    }
    crate::mem::reclaim_all();
    let nodes = crate::topology().nodes.len();
    let total: u64 = (0..nodes).map(crate::mem::total_frames).sum::<u64>() * 4;
    let free: u64 = (0..nodes).map(crate::mem::free_frames).sum::<u64>() * 4;
    format!("MemTotal:       {total:>8} kB\nMemFree:        {free:>8} kB\nMemAvailable:   {free:>8} kB\n").into_bytes()
}

//! `KernelState` under `nr::NodeReplicated`: replicas that build their page
//! tables from different frames converge to equal state hashes, responses
//! are those of the sequential structure, and reads on one replica see
//! writes made through another.

mod common;

use std::sync::Arc;
use std::thread;

use abi::errno::Errno;
use abi::flags::{AT_FDCWD, O_CREAT, O_RDWR};
use common::gen::{normalize, Gen};
use common::*;
use kstate::{
    Access, FaultDecision, FrameMemory, KernelState, MapAt, Populated, PteFlags, ReadOp, Resp,
    VmaKind, WriteOp,
};
use memfs::Fs;
use nr::NodeReplicated;

type Nr = NodeReplicated<KS>;

/// Kernel half of every root of replica `i` (node-local kernel tables).
fn kernel_entries(i: usize) -> [u64; 256] {
    let mut k = [0u64; 256];
    for (j, e) in k.iter_mut().enumerate() {
        *e = 0x7700_0000_0000 + ((i as u64) << 32) + ((j as u64) << 12) + 0x3;
    }
    k
}

/// `n` replicas, replica `i` numbering its table frames from a different
/// base, a log of `log` entries.
fn build(n: usize, log: usize) -> (Arc<Nr>, Vec<SharedMem>) {
    let mems: Vec<SharedMem> = (0..n)
        .map(|i| SharedMem::new(0x1_0000_0000 * (i as u64 + 1)))
        .collect();
    let m = mems.clone();
    let nr = NodeReplicated::new(n, log, 4, move |i| {
        KernelState::new(Fs::new(T0), m[i].clone(), Some(kernel_entries(i)))
    });
    (Arc::new(nr), mems)
}

/// Syncs every replica and checks they are equal: same hash, same resident
/// pages and VMAs per process, same number of page-table frames, sound
/// invariants, and per-replica kernel entries in every root. Returns the hash.
fn assert_converged(nr: &Nr, mems: &[SharedMem]) -> u64 {
    let n = nr.num_replicas();
    for r in 0..n {
        nr.sync(r);
    }
    type Snap = Vec<(
        u32,
        Option<(Vec<(u64, u64)>, Vec<vspace::Vma>, Option<(u64, u64)>)>,
    )>;
    let snaps: Vec<(u64, Snap, Vec<u64>)> = (0..n)
        .map(|r| {
            nr.with_data(r, |d| {
                d.fs().check_invariants().unwrap();
                let mut snap = Vec::new();
                let mut roots = Vec::new();
                for pid in 1..=2000u32 {
                    let Some(p) = d.process(pid) else { continue };
                    snap.push((
                        pid,
                        p.vm.as_ref().map(|vm| {
                            vm.check_invariants().unwrap();
                            roots.push(vm.root());
                            // Kernel half of this replica's root.
                            let k = kernel_entries(r);
                            let mem = vm.mem();
                            assert_eq!(
                                mem.read_entry(vm.root(), 256),
                                k[0],
                                "replica {r} pid {pid}: kernel entries"
                            );
                            assert_eq!(mem.read_entry(vm.root(), 511), k[255]);
                            (
                                vm.resident_pages().collect(),
                                vm.vmas().copied().collect(),
                                vm.brk_state(),
                            )
                        }),
                    ));
                }
                assert_eq!(snap.len(), d.process_count(), "pids beyond the scan range");
                (d.state_hash(), snap, roots)
            })
        })
        .collect();
    for r in 1..n {
        assert_eq!(
            snaps[r].1, snaps[0].1,
            "replica {r} differs from replica 0 in address spaces"
        );
        assert_eq!(
            snaps[r].0, snaps[0].0,
            "replica {r} hash differs from replica 0"
        );
        assert_eq!(
            mems[r].live_tables(),
            mems[0].live_tables(),
            "replica {r}: number of table frames"
        );
        // Different table frames: no root is shared between replicas.
        for root in &snaps[r].2 {
            assert!(
                !snaps[0].2.contains(root),
                "replica {r} uses replica 0's table frame {root:#x}"
            );
        }
    }
    // Every replica answers ReadOp::Hash with the same value.
    for r in 0..n {
        let tok = nr.register(r).ok();
        if let Some(tok) = tok {
            assert_eq!(as_val(nr.execute(ReadOp::Hash, tok)), snaps[0].0);
        }
    }
    snaps[0].0
}

// ----- single thread, every op compared with the sequential structure -------

/// One thread drives several actors through random replicas; every response
/// must equal (exactly, pids and inode numbers included) the response of a
/// plain `KernelState` applying the same ops, every replica's hash must equal
/// the reference hash, and a failed op must leave the state unchanged.
fn nr_matches_sequential(n: usize, seed: u64, steps: usize) {
    let (nr, mems) = build(n, 64); // small log: wraps around many times
    let toks: Vec<_> = (0..n).map(|r| nr.register(r).unwrap()).collect();
    let (mut reference, ref_mem) = fresh(0x9_0000_0000);
    let mut rng = Rng(seed);
    let mut gens: Vec<Gen> = (0..3)
        .map(|t| Gen::new(t, seed, &format!("/t{t}")))
        .collect();
    // The third actor works in the first actor's directory: cross-actor
    // interference is fine here, everything is sequential.
    gens[2].root = "/t0".to_string();
    let run = |op: WriteOp, rng: &mut Rng, reference: &mut KS| {
        let h0 = reference.state_hash();
        let r_ref = apply(reference, op.clone());
        let tok = toks[rng.below(n as u64) as usize];
        let r_nr = nr.execute_mut(op.clone(), tok);
        assert_eq!(
            show(&r_nr),
            show(&r_ref),
            "seed {seed}: op {op:?} via replica {}",
            tok.replica_id()
        );
        if r_ref.is_err() {
            assert_eq!(
                reference.state_hash(),
                h0,
                "seed {seed}: failed op {op:?} = {r_ref:?} changed the state"
            );
        }
        r_ref
    };
    for g in &mut gens {
        let op = g.spawn_main();
        let r = run(op.clone(), &mut rng, &mut reference);
        g.observe(&op, &r);
        for op in g.setup() {
            let r = run(op.clone(), &mut rng, &mut reference);
            g.observe(&op, &r);
        }
    }
    for step in 0..steps {
        let g = &mut gens[rng.below(3) as usize];
        let op = g.next();
        let r = run(op.clone(), &mut rng, &mut reference);
        g.observe(&op, &r);
        if step % 97 == 0 {
            let h = reference.state_hash();
            for (r, &tok) in toks.iter().enumerate() {
                assert_eq!(
                    as_val(nr.execute(ReadOp::Hash, tok)),
                    h,
                    "seed {seed} step {step}: replica {r}"
                );
            }
        }
    }
    let h = assert_converged(&nr, &mems);
    assert_eq!(h, reference.state_hash());
    for g in &gens {
        for op in g.teardown() {
            let _ = run(op, &mut rng, &mut reference);
        }
    }
    assert_converged(&nr, &mems);
    assert_eq!(reference.process_count(), 0);
    // All processes gone: no page-table frame left on any replica.
    assert_eq!(ref_mem.live_tables(), 0);
    for (r, m) in mems.iter().enumerate() {
        assert_eq!(m.live_tables(), 0, "replica {r} leaked table frames");
    }
}

#[test]
fn two_replicas_match_sequential() {
    for seed in 1..=3 {
        nr_matches_sequential(2, seed, 1000);
    }
}

#[test]
fn three_replicas_match_sequential() {
    for seed in 11..=12 {
        nr_matches_sequential(3, seed, 1000);
    }
}

// ----- concurrent threads on different replicas --------------------------------

/// Runs `g` to completion through `exec`, returning the normalized
/// responses. `check` sees every (op, response).
fn drive(
    g: &mut Gen,
    steps: usize,
    mut exec: impl FnMut(WriteOp) -> abi::errno::KResult<Resp>,
    mut check: impl FnMut(&WriteOp, &abi::errno::KResult<Resp>),
) -> Vec<String> {
    let mut out = Vec::new();
    let mut one = |g: &mut Gen, op: WriteOp, out: &mut Vec<String>| {
        let r = exec(op.clone());
        check(&op, &r);
        g.observe(&op, &r);
        out.push(format!("{} => {}", short(&op), normalize(&r)));
    };
    let op = g.spawn_main();
    one(g, op, &mut out);
    for op in g.setup() {
        one(g, op, &mut out);
    }
    for _ in 0..steps {
        let op = g.next();
        one(g, op, &mut out);
    }
    for op in g.teardown() {
        one(g, op, &mut out);
    }
    out
}

/// An op without its pid (pids depend on the interleaving).
fn short(op: &WriteOp) -> String {
    let s = format!("{op:?}");
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest
        .find("pid: ")
        .into_iter()
        .chain(rest.find("parent: "))
        .min()
    {
        let k = if rest[i..].starts_with("pid: ") { 5 } else { 8 };
        out.push_str(&rest[..i + k]);
        rest = &rest[i + k..];
        let j = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        out.push('_');
        rest = &rest[j..];
    }
    out.push_str(rest);
    out.replace(|c: char| c == '\n', " ")
}

/// `threads` threads, thread `t` registered with replica `t % n`, each an
/// actor in its own directory with its own processes: the responses each
/// thread sees must be exactly those of a sequential run of that actor alone
/// (modulo pids and inode numbers), and the replicas must converge.
fn concurrent_private(n: usize, threads: usize, seed: u64, steps: usize) {
    let (nr, mems) = build(n, 128);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let nr = nr.clone();
            thread::spawn(move || {
                let tok = nr.register(t % n).unwrap();
                let mut g = Gen::new(t as u64, seed, &format!("/t{t}"));
                let nr2 = nr.clone();
                drive(
                    &mut g,
                    steps,
                    |op| nr.execute_mut(op, tok),
                    |op, r| read_your_writes(&nr2, tok, op, r),
                )
            })
        })
        .collect();
    let logs: Vec<Vec<String>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_converged(&nr, &mems);
    for (r, m) in mems.iter().enumerate() {
        assert_eq!(m.live_tables(), 0, "replica {r} leaked table frames");
    }
    for (t, log) in logs.iter().enumerate() {
        let (mut ks, _) = fresh(0x20_0000_0000);
        let mut g = Gen::new(t as u64, seed, &format!("/t{t}"));
        let expect = drive(&mut g, steps, |op| apply(&mut ks, op), |_, _| {});
        assert_eq!(log.len(), expect.len());
        for (i, (a, b)) in log.iter().zip(&expect).enumerate() {
            assert_eq!(
                a, b,
                "seed {seed}, thread {t}, step {i}: response differs from a sequential run"
            );
        }
    }
}

/// After a successful Populate through `tok`, a read on the same replica
/// sees the frame (the process belongs to this thread alone).
fn read_your_writes(nr: &Nr, tok: nr::ThreadToken, op: &WriteOp, r: &abi::errno::KResult<Resp>) {
    let (WriteOp::Populate { pid, pages }, Ok(Resp::Populated(v))) = (op, r) else {
        return;
    };
    for (&(va, frame), res) in pages.iter().zip(v) {
        if *res != Ok(Populated::Installed) {
            continue;
        }
        match nr.execute(ReadOp::Translate { pid: *pid, va }, tok) {
            Ok(Resp::Translation(Some((pa, _)))) => {
                assert_eq!(pa, frame + (va & 0xfff), "translate {va:#x}")
            }
            Ok(Resp::Translation(None)) => {
                // Only a PROT_NONE page has a non-present leaf.
                let f = nr.execute(
                    ReadOp::Fault {
                        pid: *pid,
                        va,
                        access: Access::default(),
                    },
                    tok,
                );
                assert!(
                    matches!(f, Ok(Resp::Fault(FaultDecision::Segv { accerr: true }))),
                    "{va:#x}: {f:?}"
                );
            }
            other => panic!("translate {va:#x}: {other:?}"),
        }
    }
}

#[test]
fn concurrent_two_replicas_private_actors() {
    for seed in [100, 101] {
        concurrent_private(2, 4, seed, 400);
    }
}

#[test]
fn concurrent_three_replicas_private_actors() {
    for seed in [200, 201] {
        concurrent_private(3, 3, seed, 400);
    }
}

/// All threads work in one shared directory (responses now depend on the
/// interleaving): the replicas must still converge.
#[test]
fn concurrent_shared_directory_converges() {
    for (n, threads, seed) in [(2, 4, 300), (3, 3, 301), (3, 6, 302)] {
        let (nr, mems) = build(n, 64);
        {
            let tok = nr.register(0).unwrap();
            let pid = as_pid(nr.execute_mut(
                WriteOp::Spawn {
                    parent: 0,
                    exe: vec![],
                },
                tok,
            ));
            as_unit(nr.execute_mut(
                WriteOp::Mkdir {
                    pid,
                    dirfd: AT_FDCWD,
                    path: b"/shared".to_vec(),
                    mode: 0o777,
                    now: T0,
                },
                tok,
            ));
            as_frames(nr.execute_mut(WriteOp::Exit { pid, status: 0 }, tok));
        }
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let nr = nr.clone();
                thread::spawn(move || {
                    let tok = nr.register(t % n).unwrap();
                    let mut g = Gen::new(t as u64, seed, "/shared");
                    let nr2 = nr.clone();
                    // setup()'s Mkdir of /shared fails with EEXIST: fine.
                    drive(
                        &mut g,
                        300,
                        |op| nr.execute_mut(op, tok),
                        |op, r| read_your_writes(&nr2, tok, op, r),
                    )
                    .len()
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_converged(&nr, &mems);
    }
}

// ----- targeted ------------------------------------------------------------------

#[test]
fn translate_on_another_replica_sees_populate() {
    let (nr, mems) = build(2, 256);
    let t0 = nr.register(0).unwrap();
    let t1 = nr.register(1).unwrap();
    let pid = as_pid(nr.execute_mut(
        WriteOp::Spawn {
            parent: 0,
            exe: b"/x".to_vec(),
        },
        t0,
    ));
    let (addr, _) = as_mapped(nr.execute_mut(
        WriteOp::Mmap {
            pid,
            at: MapAt::Any,
            len: 3 * 4096,
            prot: 3,
            kind: VmaKind::Anon,
        },
        t0,
    ));
    let frame = 0xabc_d000;
    match nr.execute_mut(
        WriteOp::Populate {
            pid,
            pages: vec![(addr + 4096 + 5, frame)],
        },
        t0,
    ) {
        Ok(Resp::Populated(v)) => assert_eq!(v, vec![Ok(Populated::Installed)]),
        o => panic!("{o:?}"),
    }
    // Replica 1 has not applied anything yet; the read must catch up.
    let rw = PteFlags {
        present: true,
        writable: true,
        executable: false,
        user: true,
        cow: false,
    };
    match nr.execute(
        ReadOp::Translate {
            pid,
            va: addr + 4096 + 0x123,
        },
        t1,
    ) {
        Ok(Resp::Translation(Some((pa, f)))) => {
            assert_eq!(pa, frame + 0x123);
            assert_eq!(f, rw);
        }
        o => panic!("{o:?}"),
    }
    let write = Access {
        write: true,
        exec: false,
        user: true,
    };
    assert!(matches!(
        nr.execute(
            ReadOp::Fault {
                pid,
                va: addr + 4096,
                access: write
            },
            t1
        ),
        Ok(Resp::Fault(FaultDecision::Spurious))
    ));
    assert!(matches!(
        nr.execute(
            ReadOp::Fault {
                pid,
                va: addr,
                access: write
            },
            t1
        ),
        Ok(Resp::Fault(FaultDecision::NeedsFrame {
            zero: true,
            file: None
        }))
    ));
    // Same frame, different page-table frames.
    let root0 = as_val(nr.execute(ReadOp::Root { pid }, t0));
    let root1 = as_val(nr.execute(ReadOp::Root { pid }, t1));
    assert_ne!(root0, root1, "each replica builds its own hierarchy");
    assert!(
        (0x1_0000_0000..0x2_0000_0000).contains(&root0),
        "{root0:#x} from replica 0's memory"
    );
    assert!(
        (0x2_0000_0000..0x3_0000_0000).contains(&root1),
        "{root1:#x} from replica 1's memory"
    );
    let h0 = as_val(nr.execute(ReadOp::Hash, t0));
    let h1 = as_val(nr.execute(ReadOp::Hash, t1));
    assert_eq!(h0, h1, "hashes ignore which frames hold the tables");
    // A second process gets another root on each replica.
    let pid2 = as_pid(nr.execute_mut(
        WriteOp::Spawn {
            parent: pid,
            exe: vec![],
        },
        t1,
    ));
    assert_ne!(as_val(nr.execute(ReadOp::Root { pid: pid2 }, t1)), root1);
    assert_ne!(as_val(nr.execute(ReadOp::Root { pid: pid2 }, t0)), root0);
    // mprotect through replica 1 is seen by replica 0.
    as_unit(nr.execute_mut(
        WriteOp::Mprotect {
            pid,
            start: addr,
            len: 3 * 4096,
            prot: 1,
        },
        t1,
    ));
    match nr.execute(
        ReadOp::Translate {
            pid,
            va: addr + 4096,
        },
        t0,
    ) {
        Ok(Resp::Translation(Some((pa, f)))) => {
            assert_eq!(pa, frame);
            assert!(!f.writable);
        }
        o => panic!("{o:?}"),
    }
    // munmap through replica 0 returns the frame once and replica 1 sees the hole.
    assert_eq!(
        as_frames(nr.execute_mut(
            WriteOp::Munmap {
                pid,
                start: addr,
                len: 3 * 4096
            },
            t0
        )),
        vec![frame]
    );
    assert!(matches!(
        nr.execute(
            ReadOp::Translate {
                pid,
                va: addr + 4096
            },
            t1
        ),
        Ok(Resp::Translation(None))
    ));
    assert!(matches!(
        nr.execute(
            ReadOp::Fault {
                pid,
                va: addr + 4096,
                access: write
            },
            t1
        ),
        Ok(Resp::Fault(FaultDecision::Segv { accerr: false }))
    ));
    // exec through replica 1: a fresh root on both, still different.
    as_frames(nr.execute_mut(WriteOp::ResetVm { pid, exe: vec![] }, t1));
    let r0 = as_val(nr.execute(ReadOp::Root { pid }, t0));
    let r1 = as_val(nr.execute(ReadOp::Root { pid }, t1));
    assert_ne!(r0, r1);
    assert_converged(&nr, &mems);
}

#[test]
fn hash_changes_with_every_state_change() {
    let (nr, mems) = build(3, 64);
    let toks: Vec<_> = (0..3).map(|r| nr.register(r).unwrap()).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut i = 0usize;
    let mut step = |op: WriteOp, expect_change: bool| -> abi::errno::KResult<Resp> {
        let tok = toks[i % 3];
        i += 1;
        let before = as_val(nr.execute(ReadOp::Hash, tok));
        let r = nr.execute_mut(op.clone(), tok);
        let hashes: Vec<u64> = toks
            .iter()
            .map(|&t| as_val(nr.execute(ReadOp::Hash, t)))
            .collect();
        assert!(
            hashes.iter().all(|&h| h == hashes[0]),
            "{op:?}: replicas disagree {hashes:x?}"
        );
        if expect_change {
            assert_ne!(hashes[0], before, "{op:?} = {r:?} did not change the hash");
            assert!(
                seen.insert(hashes[0]),
                "{op:?}: hash repeats an earlier state"
            );
        } else {
            assert_eq!(hashes[0], before, "{op:?} = {r:?} changed the hash");
        }
        r
    };
    let t = T0;
    let pid = as_pid(step(
        WriteOp::Spawn {
            parent: 0,
            exe: b"/a".to_vec(),
        },
        true,
    ));
    let fd = as_fd(step(
        WriteOp::Open {
            pid,
            dirfd: AT_FDCWD,
            path: b"/f".to_vec(),
            flags: O_CREAT | O_RDWR,
            mode: 0o644,
            now: t,
        },
        true,
    ));
    as_val(step(
        WriteOp::Write {
            pid,
            fd,
            data: Arc::new(b"hello".to_vec()),
            now: now(1),
        },
        true,
    ));
    as_val(step(
        WriteOp::WriteAt {
            pid,
            fd,
            offset: 0,
            data: Arc::new(b"J".to_vec()),
            now: now(2),
        },
        true,
    ));
    as_val(step(
        WriteOp::Seek {
            pid,
            fd,
            offset: 1,
            whence: 0,
        },
        true,
    ));
    step(WriteOp::ReadAdvance { pid, fd, len: 2 }, true).unwrap();
    as_unit(step(
        WriteOp::SetCloexec {
            pid,
            fd,
            cloexec: true,
        },
        true,
    ));
    as_unit(step(
        WriteOp::SetStatusFlags {
            pid,
            fd,
            flags: abi::flags::O_APPEND,
        },
        true,
    ));
    let fd2 = as_fd(step(
        WriteOp::Dup {
            pid,
            fd,
            min: 0,
            cloexec: false,
        },
        true,
    ));
    as_unit(step(WriteOp::Close { pid, fd }, true));
    let _ = fd2;
    as_unit(step(
        WriteOp::Mkdir {
            pid,
            dirfd: AT_FDCWD,
            path: b"/d".to_vec(),
            mode: 0o755,
            now: now(3),
        },
        true,
    ));
    as_unit(step(
        WriteOp::Rename {
            pid,
            olddirfd: AT_FDCWD,
            old: b"/f".to_vec(),
            newdirfd: AT_FDCWD,
            new: b"/d/g".to_vec(),
            now: now(4),
        },
        true,
    ));
    as_unit(step(
        WriteOp::Chdir {
            pid,
            dirfd: AT_FDCWD,
            path: b"/d".to_vec(),
        },
        true,
    ));
    as_val(step(WriteOp::Umask { pid, mask: 0o077 }, true));
    let (addr, _) = as_mapped(step(
        WriteOp::Mmap {
            pid,
            at: MapAt::Any,
            len: 8192,
            prot: 3,
            kind: VmaKind::Anon,
        },
        true,
    ));
    step(
        WriteOp::Populate {
            pid,
            pages: vec![(addr, 0x77_7000)],
        },
        true,
    )
    .unwrap();
    as_unit(step(
        WriteOp::Mprotect {
            pid,
            start: addr,
            len: 4096,
            prot: 1,
        },
        true,
    ));
    as_unit(step(
        WriteOp::SetBrkStart {
            pid,
            addr: 0x100_0000,
        },
        true,
    ));
    as_mapped(step(
        WriteOp::Brk {
            pid,
            addr: 0x100_3000,
        },
        true,
    ));
    as_frames(step(
        WriteOp::Munmap {
            pid,
            start: addr,
            len: 8192,
        },
        true,
    ));
    // Failures and no-ops leave the hash alone.
    assert_eq!(
        err(step(WriteOp::Close { pid, fd: 99 }, false)),
        Errno::EBADF
    );
    assert_eq!(
        err(step(
            WriteOp::Mkdir {
                pid,
                dirfd: AT_FDCWD,
                path: b"/d".to_vec(),
                mode: 0o755,
                now: now(5)
            },
            false
        )),
        Errno::EEXIST
    );
    assert_eq!(
        as_frames(step(
            WriteOp::Munmap {
                pid,
                start: addr,
                len: 8192
            },
            false
        )),
        Vec::<u64>::new()
    );
    as_frames(step(WriteOp::Exit { pid, status: 3 }, true));
    as_val(step(WriteOp::Reap { pid }, true));
    assert_converged(&nr, &mems);
}

/// `state_hash` covers the id counters: after Spawn+Exit+Reap the next
/// Spawn returns a different pid, so the hash must differ. (Regression:
/// `next_pid` and `next_file` used to be left out.)
#[test]
fn hash_covers_id_counters() {
    let (mut ks, _) = fresh(0x10_0000);
    let h0 = ks.state_hash();
    let pid = as_pid(apply(
        &mut ks,
        WriteOp::Spawn {
            parent: 0,
            exe: vec![],
        },
    ));
    as_frames(apply(&mut ks, WriteOp::Exit { pid, status: 0 }));
    as_val(apply(&mut ks, WriteOp::Reap { pid }));
    assert_ne!(
        ks.state_hash(),
        h0,
        "next_pid advanced but the hash is unchanged"
    );
    let h1 = ks.state_hash();
    let pid = as_pid(apply(
        &mut ks,
        WriteOp::Spawn {
            parent: 0,
            exe: vec![],
        },
    ));
    let h2 = ks.state_hash();
    let fd = as_fd(apply(
        &mut ks,
        WriteOp::OpenBuffer {
            pid,
            data: Arc::from(&b"x"[..]),
            flags: 0,
        },
    ));
    as_unit(apply(&mut ks, WriteOp::Close { pid, fd }));
    assert_ne!(
        ks.state_hash(),
        h2,
        "next_file advanced but the hash is unchanged"
    );
    assert_ne!(h1, h2);
}

/// Page-table frames come from each replica's own memory, so `Populate` can
/// succeed on one replica and fail with `ENOMEM` on another (vspace documents
/// this as the one replica-dependent outcome). kstate passes it through: the
/// replicas silently diverge (different hashes, the page is mapped on one
/// node only) while the caller sees only the combiner's response.
#[test]
#[ignore = "BUG (design): Populate is not deterministic across replicas when one replica runs out of \
            page-table frames: replica 0 installs the page, replica 1 answers ENOMEM, hashes diverge"]
fn populate_enomem_on_one_replica_diverges() {
    let (nr, mems) = build(2, 64);
    let t0 = nr.register(0).unwrap();
    let pid = as_pid(nr.execute_mut(
        WriteOp::Spawn {
            parent: 0,
            exe: vec![],
        },
        t0,
    ));
    let (addr, _) = as_mapped(nr.execute_mut(
        WriteOp::Mmap {
            pid,
            at: MapAt::Any,
            len: 4096,
            prot: 3,
            kind: VmaKind::Anon,
        },
        t0,
    ));
    nr.sync(1);
    mems[1].0.lock().unwrap().set_budget(Some(0));
    match nr.execute_mut(
        WriteOp::Populate {
            pid,
            pages: vec![(addr, 0x1234_5000)],
        },
        t0,
    ) {
        Ok(Resp::Populated(v)) => assert_eq!(v, vec![Ok(Populated::Installed)]),
        o => panic!("{o:?}"),
    }
    nr.sync(1);
    let h0 = nr.with_data(0, |d| d.state_hash());
    let h1 = nr.with_data(1, |d| d.state_hash());
    assert_eq!(
        h0, h1,
        "replicas diverged after a table-frame shortage on replica 1"
    );
}

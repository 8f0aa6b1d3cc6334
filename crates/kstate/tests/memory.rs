//! Data-frame accounting: every frame handed to `Populate` (and installed)
//! comes back exactly once, through the `Frames`/`Mapped` responses of
//! Munmap, Mmap(Fixed), Brk (shrink), Discard, ResetVm and Exit, and is
//! mapped until then.

mod common;

use std::collections::BTreeSet;

use abi::errno::{Errno, KResult};
use common::gen::Gen;
use common::*;
use kstate::{
    Access, CowOutcome, FaultDecision, KernelState, MapAt, Populated, ReadOp, Resp, VmaKind,
    WriteOp,
};
use memfs::Fs;
use nr::{NodeReplicated, ThreadToken};

const PAGE: u64 = 4096;

/// One replica plus the frame ledger.
struct Ledger {
    nr: NodeReplicated<KS>,
    mem: SharedMem,
    tok: ThreadToken,
    /// Frames the state holds now.
    owned: BTreeSet<u64>,
    /// Every frame ever installed.
    given: BTreeSet<u64>,
    /// Every frame ever returned.
    returned: BTreeSet<u64>,
    /// Frames refused by Populate (the caller keeps them).
    refused: BTreeSet<u64>,
    /// How many frames each kind of op returned.
    by_op: std::collections::BTreeMap<String, usize>,
    ops: usize,
}

impl Ledger {
    fn new() -> Self {
        let mem = SharedMem::new(0x40_0000_0000);
        let m = mem.clone();
        let nr = NodeReplicated::new(1, 64, 2, move |_| {
            KernelState::new(Fs::new(T0), m.clone(), None)
        });
        let tok = nr.register(0).unwrap();
        Ledger {
            nr,
            mem,
            tok,
            owned: BTreeSet::new(),
            given: BTreeSet::new(),
            returned: BTreeSet::new(),
            refused: BTreeSet::new(),
            by_op: Default::default(),
            ops: 0,
        }
    }

    fn run(&mut self, op: WriteOp) -> KResult<Resp> {
        self.ops += 1;
        let r = self.nr.execute_mut(op.clone(), self.tok);
        if let (WriteOp::Fork { parent }, Ok(_)) = (&op, &r) {
            // As the kernel does once the parent's TLBs are flushed.
            as_unit(
                self.nr
                    .execute_mut(WriteOp::ForkDone { pid: *parent }, self.tok),
            );
        }
        match (&op, &r) {
            (WriteOp::Populate { pages, .. }, Ok(Resp::Populated(v))) => {
                assert_eq!(pages.len(), v.len());
                for (&(va, frame), res) in pages.iter().zip(v) {
                    if *res == Ok(Populated::Installed) {
                        assert!(self.given.insert(frame), "frame {frame:#x} installed twice");
                        self.owned.insert(frame);
                    } else {
                        assert!(!self.given.contains(&frame));
                        self.refused.insert(frame);
                        let _ = va;
                    }
                }
            }
            (WriteOp::Populate { .. }, Ok(other)) => panic!("Populate answered {other:?}"),
            (WriteOp::Cow { new: Some(new), .. }, Ok(Resp::Cow(CowOutcome::Copied))) => {
                assert!(self.given.insert(*new), "frame {new:#x} installed twice");
                self.owned.insert(*new);
                *self.by_op.entry("Cow".into()).or_default() += 1;
            }
            (WriteOp::Cow { new: Some(new), .. }, Ok(_)) => {
                self.refused.insert(*new);
            }
            (_, Ok(Resp::Frames(rel) | Resp::Mapped(_, rel))) => {
                let f = &rel.free;
                let name = format!("{op:?}");
                let name = name.split([' ', '{']).next().unwrap_or("").to_string();
                *self.by_op.entry(name).or_default() += f.len();
                for &frame in f {
                    assert!(
                        !self.refused.contains(&frame),
                        "{op:?} returned refused frame {frame:#x}"
                    );
                    assert!(
                        self.returned.insert(frame),
                        "{op:?} returned {frame:#x} a second time"
                    );
                    assert!(
                        self.owned.remove(&frame),
                        "{op:?} returned {frame:#x}, which was never installed"
                    );
                }
            }
            _ => {}
        }
        self.check(&op, &r);
        r
    }

    /// The frames mapped by all address spaces are exactly the owned ones.
    fn check(&self, op: &WriteOp, r: &KResult<Resp>) {
        self.nr.with_data(0, |d| {
            let mut resident = Vec::new();
            let (mut found, mut pid) = (0, 0u32);
            while found < d.process_count() {
                pid += 1;
                assert!(pid < 1_000_000);
                if let Some(p) = d.process(pid) {
                    found += 1;
                    if let Some(vm) = &p.vm {
                        resident.extend(vm.resident_pages().map(|(_, f)| f));
                    }
                }
            }
            let set: BTreeSet<u64> = resident.iter().copied().collect();
            // A frame is mapped exactly as often as its reference count says.
            let mut count = std::collections::BTreeMap::<u64, u32>::new();
            for f in &resident {
                *count.entry(*f).or_default() += 1;
            }
            for (f, n) in count {
                assert_eq!(n, 1 + d.extra_refs(f), "after {op:?}: frame {f:#x} mapped {n} times, refcount says {}", 1 + d.extra_refs(f));
            }
            if set != self.owned {
                let leaked: Vec<_> = self.owned.difference(&set).map(|f| format!("{f:#x}")).collect();
                let extra: Vec<_> = set.difference(&self.owned).map(|f| format!("{f:#x}")).collect();
                panic!("after op #{} {op:?} = {r:?}: dropped without being returned {leaked:?}; still mapped although returned/unknown {extra:?}", self.ops);
            }
        });
    }

    fn pid(&mut self) -> u32 {
        as_pid(self.run(WriteOp::Spawn {
            parent: 0,
            exe: vec![],
        }))
    }

    fn populate(&mut self, pid: u32, pages: &[(u64, u64)]) -> Vec<KResult<Populated>> {
        match self.run(WriteOp::Populate {
            pid,
            pages: pages.to_vec(),
        }) {
            Ok(Resp::Populated(v)) => v,
            o => panic!("{o:?}"),
        }
    }

    fn mmap(
        &mut self,
        pid: u32,
        at: MapAt,
        len: u64,
        prot: u32,
        kind: VmaKind,
    ) -> KResult<(u64, Vec<u64>)> {
        self.run(WriteOp::Mmap {
            pid,
            at,
            len,
            prot,
            kind,
        })
        .map(|r| match r {
            Resp::Mapped(a, f) => (a, f.free),
            o => panic!("{o:?}"),
        })
    }
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

#[test]
fn every_release_path_returns_frames_once() {
    let mut l = Ledger::new();
    let pid = l.pid();
    let installed = Ok(Populated::Installed);

    // munmap of part of a VMA (split), then of the rest.
    let (a, _) = l.mmap(pid, MapAt::Any, 8 * PAGE, 3, VmaKind::Anon).unwrap();
    let f: Vec<(u64, u64)> = (0..8)
        .map(|i| (a + i * PAGE, 0x100_0000 + i * PAGE))
        .collect();
    assert!(l.populate(pid, &f).iter().all(|r| *r == installed));
    assert_eq!(
        as_frames(l.run(WriteOp::Munmap {
            pid,
            start: a + 2 * PAGE,
            len: 3 * PAGE
        })),
        vec![0x100_2000, 0x100_3000, 0x100_4000]
    );
    // Unaligned munmap fails and keeps everything.
    assert_eq!(
        err(l.run(WriteOp::Munmap {
            pid,
            start: a + 1,
            len: PAGE
        })),
        Errno::EINVAL
    );
    assert_eq!(
        err(l.run(WriteOp::Munmap {
            pid,
            start: a,
            len: 0
        })),
        Errno::EINVAL
    );
    // PROT_NONE pages keep their frame in a non-present leaf: still returned.
    as_unit(l.run(WriteOp::Mprotect {
        pid,
        start: a,
        len: 2 * PAGE,
        prot: 0,
    }));
    assert!(matches!(
        l.run_read(ReadOp::Translate { pid, va: a }),
        Ok(Resp::Translation(None))
    ));
    assert_eq!(
        sorted(as_frames(l.run(WriteOp::Munmap {
            pid,
            start: a,
            len: 8 * PAGE
        }))),
        vec![0x100_0000, 0x100_1000, 0x100_5000, 0x100_6000, 0x100_7000]
    );

    // Populate of a present page: AlreadyPresent, the caller keeps the frame.
    let (b, _) = l.mmap(pid, MapAt::Any, 2 * PAGE, 3, VmaKind::Anon).unwrap();
    assert_eq!(
        l.populate(
            pid,
            &[(b, 0x200_0000), (b + 7, 0x200_1000), (b + PAGE, 0x200_2000)]
        ),
        vec![installed, Ok(Populated::AlreadyPresent), installed]
    );
    // Outside any VMA: EFAULT per page, nothing taken; bad frame: EINVAL.
    assert_eq!(
        l.populate(pid, &[(0x1000_0000_0000, 0x200_3000)]),
        vec![Err(Errno::EFAULT)]
    );
    assert_eq!(
        l.populate(pid, &[(b, 0x200_4001)]),
        vec![Err(Errno::EINVAL)]
    );
    // MAP_FIXED_NOREPLACE over it fails and releases nothing.
    assert_eq!(
        l.mmap(pid, MapAt::FixedNoReplace(b), PAGE, 3, VmaKind::Anon),
        Err(Errno::EEXIST)
    );
    // MAP_FIXED over it releases the old frames.
    let (b2, rel) = l
        .mmap(pid, MapAt::Fixed(b), 3 * PAGE, 1, VmaKind::Anon)
        .unwrap();
    assert_eq!(b2, b);
    assert_eq!(rel, vec![0x200_0000, 0x200_2000]);

    // Discard (MADV_DONTNEED): frames come back, the mapping stays.
    let (c, _) = l
        .mmap(
            pid,
            MapAt::Any,
            4 * PAGE,
            3,
            VmaKind::File { ino: 9, offset: 0 },
        )
        .unwrap();
    assert!(l
        .populate(
            pid,
            &[
                (c, 0x300_0000),
                (c + PAGE, 0x300_1000),
                (c + 3 * PAGE, 0x300_3000)
            ]
        )
        .iter()
        .all(|r| *r == installed));
    assert_eq!(
        as_frames(l.run(WriteOp::Discard {
            pid,
            start: c + PAGE,
            len: 3 * PAGE
        })),
        vec![0x300_1000, 0x300_3000]
    );
    let read = Access {
        write: false,
        exec: false,
        user: true,
    };
    match l.run_read(ReadOp::Fault {
        pid,
        va: c + 3 * PAGE,
        access: read,
    }) {
        Ok(Resp::Fault(FaultDecision::NeedsFrame {
            zero: false,
            file: Some((9, off)),
        })) => assert_eq!(off, 3 * PAGE, "file offset kept"),
        o => panic!("{o:?}"),
    }
    assert!(matches!(
        l.run_read(ReadOp::Fault {
            pid,
            va: c,
            access: read
        }),
        Ok(Resp::Fault(FaultDecision::Spurious))
    ));
    // Discard of nothing mapped: nothing.
    assert_eq!(
        as_frames(l.run(WriteOp::Discard {
            pid,
            start: 0x2000_0000,
            len: PAGE
        })),
        Vec::<u64>::new()
    );

    // brk: growing releases nothing, shrinking releases the pages above the new break.
    as_unit(l.run(WriteOp::SetBrkStart {
        pid,
        addr: 0x50_0000,
    }));
    assert_eq!(
        as_mapped(l.run(WriteOp::Brk {
            pid,
            addr: 0x50_4000
        })),
        (0x50_4000, vec![])
    );
    assert!(l
        .populate(
            pid,
            &[
                (0x50_0000, 0x400_0000),
                (0x50_1000, 0x400_1000),
                (0x50_3fff, 0x400_3000)
            ]
        )
        .iter()
        .all(|r| *r == installed));
    assert_eq!(
        as_mapped(l.run(WriteOp::Brk {
            pid,
            addr: 0x50_1800
        })),
        (0x50_1800, vec![0x400_3000]),
        "the partial page stays"
    );
    assert_eq!(
        as_mapped(l.run(WriteOp::Brk {
            pid,
            addr: 0x40_0000
        })),
        (0x50_1800, vec![]),
        "below the start: unchanged"
    );
    assert_eq!(
        as_mapped(l.run(WriteOp::Brk {
            pid,
            addr: 0x50_0000
        })),
        (0x50_0000, vec![0x400_0000, 0x400_1000])
    );

    // exec: all remaining frames of the old image.
    let (d, _) = l.mmap(pid, MapAt::Any, PAGE, 7, VmaKind::Stack).unwrap();
    assert!(l
        .populate(pid, &[(d, 0x500_0000)])
        .iter()
        .all(|r| *r == installed));
    let mut expect: Vec<u64> = l.owned.iter().copied().collect();
    assert_eq!(
        sorted(as_frames(l.run(WriteOp::ResetVm { pid, exe: vec![] }))),
        expect
    );
    assert!(l.owned.is_empty());

    // exit: everything, including PROT_NONE pages.
    let (e, _) = l.mmap(pid, MapAt::Any, 2 * PAGE, 3, VmaKind::Anon).unwrap();
    assert!(l
        .populate(pid, &[(e, 0x600_0000), (e + PAGE, 0x600_1000)])
        .iter()
        .all(|r| *r == installed));
    as_unit(l.run(WriteOp::Mprotect {
        pid,
        start: e,
        len: PAGE,
        prot: 0,
    }));
    expect = l.owned.iter().copied().collect();
    assert_eq!(
        sorted(as_frames(l.run(WriteOp::Exit { pid, status: 0 }))),
        expect
    );
    assert!(l.owned.is_empty());
    assert_eq!(l.mem.live_tables(), 0, "all page tables freed");
    // A zombie has nothing left to return.
    assert_eq!(err(l.run(WriteOp::Exit { pid, status: 0 })), Errno::ESRCH);
    assert_eq!(
        err(l.run(WriteOp::ResetVm { pid, exe: vec![] })),
        Errno::ESRCH
    );
    as_val(l.run(WriteOp::Reap { pid }));
}

impl Ledger {
    fn run_read(&self, op: ReadOp) -> KResult<Resp> {
        self.nr.execute(op, self.tok)
    }

    /// The fork generation a copy-on-write copy of `pid` is taken under.
    fn gen(&self, pid: u32) -> u64 {
        match self.run_read(ReadOp::ForkGen { pid }) {
            Ok(Resp::Val(g)) => g,
            o => panic!("ForkGen of {pid}: {o:?}"),
        }
    }

    /// What the kernel does on a write fault to a copy-on-write page, for
    /// a random such page of a random process: copy if the frame is still
    /// shared, else take it over in place.
    fn random_cow_write(&mut self, rng: &mut Rng, seed: u64) {
        let mut cows = Vec::new();
        self.nr.with_data(0, |d| {
            let mut pid = 0;
            let mut found = 0;
            while found < d.process_count() {
                pid += 1;
                if let Some(p) = d.process(pid) {
                    found += 1;
                    if let Some(vm) = &p.vm {
                        for (va, _) in vm.resident_pages() {
                            if let Some(f) = vm.cow_frame(va) {
                                cows.push((pid, va, f));
                            }
                        }
                    }
                }
            }
        });
        if cows.is_empty() {
            return;
        }
        let (pid, va, old) = *rng.pick(&cows);
        let write = Access {
            write: true,
            exec: false,
            user: true,
        };
        let shared = match self.run_read(ReadOp::Fault {
            pid,
            va,
            access: write,
        }) {
            Ok(Resp::CowFault { frame, shared }) => {
                assert_eq!(frame, old);
                shared
            }
            // PROT_NONE / read-only VMA: the write is a SIGSEGV.
            Ok(Resp::Fault(FaultDecision::Segv { accerr: true })) => return,
            o => panic!("write fault on a cow page of {pid} at {va:#x}: {o:?}"),
        };
        let new = shared.then(|| {
            self.ops += 1;
            0xF000_0000_0000 + seed * 0x1_0000_0000 + self.ops as u64 * PAGE
        });
        let gen = self.gen(pid);
        let r = self.run(WriteOp::Cow {
            pid,
            va,
            old,
            new,
            gen,
        });
        let expect = if shared {
            CowOutcome::Copied
        } else {
            CowOutcome::InPlace
        };
        assert!(
            matches!(r, Ok(Resp::Cow(o)) if o == expect),
            "{r:?}, expected {expect:?}"
        );
        assert!(matches!(
            self.run_read(ReadOp::Fault {
                pid,
                va,
                access: write
            }),
            Ok(Resp::Fault(FaultDecision::Spurious))
        ));
        if !shared {
            *self.by_op.entry("CowInPlace".into()).or_default() += 1;
        }
    }
}

/// Until the fork's TLB flush is done (`ForkDone`), copy-on-write faults of
/// the parent wait: another of its threads may still write the shared frame
/// through a stale writable translation, and a copy taken now would miss it.
#[test]
fn cow_waits_for_the_forks_tlb_flush() {
    let mut l = Ledger::new();
    let parent = l.pid();
    let (a, _) = l.mmap(parent, MapAt::Any, PAGE, 3, VmaKind::Anon).unwrap();
    assert!(l
        .populate(parent, &[(a, 0x900_0000)])
        .iter()
        .all(|r| *r == Ok(Populated::Installed)));
    // Two forks in flight (the Ledger's own `run` would finish them).
    let c1 = as_pid(l.nr.execute_mut(WriteOp::Fork { parent }, l.tok));
    let c2 = as_pid(l.nr.execute_mut(WriteOp::Fork { parent }, l.tok));
    let write = Access {
        write: true,
        exec: false,
        user: true,
    };
    assert!(matches!(
        l.run_read(ReadOp::Fault {
            pid: parent,
            va: a,
            access: write
        }),
        Ok(Resp::CowFault { shared: true, .. })
    ));
    // No copy may be taken meanwhile: ForkGen says EAGAIN.
    assert_eq!(
        l.run_read(ReadOp::ForkGen { pid: parent }).err(),
        Some(Errno::EAGAIN)
    );
    for _ in 0..2 {
        assert!(matches!(
            l.run(WriteOp::Cow {
                pid: parent,
                va: a,
                old: 0x900_0000,
                new: Some(0xA00_0000 + l.ops as u64 * PAGE),
                gen: 2
            }),
            Ok(Resp::Cow(CowOutcome::Busy))
        ));
        l.nr.with_data(0, |d| {
            assert_eq!(d.extra_refs(0x900_0000), 2, "nothing changed")
        });
        as_unit(l.nr.execute_mut(WriteOp::ForkDone { pid: parent }, l.tok));
    }
    // A copy taken under generation 2 is refused once another fork began
    // (it could miss a store made before that fork's flush).
    let c3 = as_pid(l.run(WriteOp::Fork { parent }));
    assert_eq!(l.gen(parent), 3);
    assert!(matches!(
        l.run(WriteOp::Cow {
            pid: parent,
            va: a,
            old: 0x900_0000,
            new: Some(0xA10_0000),
            gen: 2
        }),
        Ok(Resp::Cow(CowOutcome::Busy))
    ));
    as_frames(l.run(WriteOp::Exit { pid: c3, status: 0 }));
    // The children were never blocked; now the parent is not either.
    assert!(matches!(
        l.run(WriteOp::Cow {
            pid: c1,
            va: a,
            old: 0x900_0000,
            new: Some(0xB00_0000),
            gen: l.gen(c1)
        }),
        Ok(Resp::Cow(CowOutcome::Copied))
    ));
    assert!(matches!(
        l.run(WriteOp::Cow {
            pid: parent,
            va: a,
            old: 0x900_0000,
            new: Some(0xB00_1000),
            gen: l.gen(parent)
        }),
        Ok(Resp::Cow(CowOutcome::Copied))
    ));
    assert!(matches!(
        l.run_read(ReadOp::Fault {
            pid: c2,
            va: a,
            access: write
        }),
        Ok(Resp::CowFault { shared: false, .. })
    ));
    // A spurious extra ForkDone changes nothing.
    as_unit(l.nr.execute_mut(WriteOp::ForkDone { pid: parent }, l.tok));
    assert!(matches!(
        l.run(WriteOp::Cow {
            pid: c2,
            va: a,
            old: 0x900_0000,
            new: None,
            gen: l.gen(c2)
        }),
        Ok(Resp::Cow(CowOutcome::InPlace))
    ));
}

/// fork shares every frame; writes on both sides copy or take over; each
/// frame comes back exactly once when its last mapping goes.
#[test]
fn fork_copy_on_write_returns_frames_once() {
    let mut l = Ledger::new();
    let parent = l.pid();
    let (a, _) = l
        .mmap(parent, MapAt::Any, 3 * PAGE, 3, VmaKind::Anon)
        .unwrap();
    let frames = [0x700_0000u64, 0x700_1000, 0x700_2000];
    let pages: Vec<(u64, u64)> = frames
        .iter()
        .enumerate()
        .map(|(i, &f)| (a + i as u64 * PAGE, f))
        .collect();
    assert!(l
        .populate(parent, &pages)
        .iter()
        .all(|r| *r == Ok(Populated::Installed)));
    let child = as_pid(l.run(WriteOp::Fork { parent }));
    let grandchild = as_pid(l.run(WriteOp::Fork { parent: child }));
    l.nr.with_data(0, |d| assert_eq!(d.extra_refs(frames[0]), 2));
    let write = Access {
        write: true,
        exec: false,
        user: true,
    };
    // The child writes page 0: copy (three sharers).
    assert!(matches!(
        l.run_read(ReadOp::Fault {
            pid: child,
            va: a,
            access: write
        }),
        Ok(Resp::CowFault {
            frame: 0x700_0000,
            shared: true
        })
    ));
    // Without a copy: retry.
    assert!(matches!(
        l.run(WriteOp::Cow {
            pid: child,
            va: a,
            old: frames[0],
            new: None,
            gen: l.gen(child)
        }),
        Ok(Resp::Cow(CowOutcome::Retry))
    ));
    assert!(matches!(
        l.run(WriteOp::Cow {
            pid: child,
            va: a,
            old: frames[0],
            new: Some(0x800_0000),
            gen: l.gen(child)
        }),
        Ok(Resp::Cow(CowOutcome::Copied))
    ));
    // A stale second attempt (another thread raced): retry, copy refused.
    assert!(matches!(
        l.run(WriteOp::Cow {
            pid: child,
            va: a,
            old: frames[0],
            new: Some(0x800_1000),
            gen: l.gen(child)
        }),
        Ok(Resp::Cow(CowOutcome::Retry))
    ));
    // Parent's page 0 is still shared with the grandchild.
    assert!(matches!(
        l.run_read(ReadOp::Fault {
            pid: parent,
            va: a,
            access: write
        }),
        Ok(Resp::CowFault { shared: true, .. })
    ));
    // The grandchild exits: its references go, nothing is freed yet except nothing.
    let rel = as_frames(l.run(WriteOp::Exit {
        pid: grandchild,
        status: 0,
    }));
    assert!(rel.is_empty(), "{rel:x?}");
    // Now the parent is the only user of page 0: in place.
    assert!(matches!(
        l.run_read(ReadOp::Fault {
            pid: parent,
            va: a,
            access: write
        }),
        Ok(Resp::CowFault { shared: false, .. })
    ));
    assert!(matches!(
        l.run(WriteOp::Cow {
            pid: parent,
            va: a,
            old: frames[0],
            new: None,
            gen: l.gen(parent)
        }),
        Ok(Resp::Cow(CowOutcome::InPlace))
    ));
    // munmap of a still-shared page frees nothing but unmaps a page.
    match l.run(WriteOp::Munmap {
        pid: parent,
        start: a + PAGE,
        len: PAGE,
    }) {
        Ok(Resp::Frames(rel)) => assert_eq!((rel.free, rel.unmapped), (vec![], 1)),
        o => panic!("{o:?}"),
    }
    // The child's exit returns its copy and the frames only it still maps.
    assert_eq!(
        sorted(as_frames(l.run(WriteOp::Exit {
            pid: child,
            status: 0
        }))),
        vec![frames[1], 0x800_0000]
    );
    assert_eq!(
        sorted(as_frames(l.run(WriteOp::Exit {
            pid: parent,
            status: 0
        }))),
        vec![frames[0], frames[2]]
    );
    assert!(l.owned.is_empty());
    assert_eq!(l.mem.live_tables(), 0);
    l.nr.with_data(0, |d| assert_eq!(d.extra_refs(frames[2]), 0));
}

/// Random sequences from several actors (mmap/munmap/mprotect/populate/
/// brk/discard/exec/exit/spawn mixed with file-system traffic): the ledger
/// and the resident pages agree after every op, and after every process
/// exited every installed frame has come back exactly once.
#[test]
fn random_sequences_return_every_frame_exactly_once() {
    let mut by_op = std::collections::BTreeMap::<String, usize>::new();
    for seed in 1..=3u64 {
        let mut l = Ledger::new();
        let mut rng = Rng(seed * 7919);
        let mut gens: Vec<Gen> = (0..3)
            .map(|t| Gen::new(t, seed, &format!("/m{t}")))
            .collect();
        for g in &mut gens {
            let op = g.spawn_main();
            let r = l.run(op.clone());
            g.observe(&op, &r);
            for op in g.setup() {
                let r = l.run(op.clone());
                g.observe(&op, &r);
            }
        }
        for _ in 0..2000 {
            let g = &mut gens[rng.below(3) as usize];
            // Bias towards memory ops (file-system ops are skipped 60% of the time).
            let op = loop {
                let op = g.next();
                let mem = matches!(
                    op,
                    WriteOp::Mmap { .. }
                        | WriteOp::Munmap { .. }
                        | WriteOp::Mprotect { .. }
                        | WriteOp::Populate { .. }
                        | WriteOp::Brk { .. }
                        | WriteOp::Discard { .. }
                        | WriteOp::ResetVm { .. }
                        | WriteOp::Exit { .. }
                        | WriteOp::Spawn { .. }
                        | WriteOp::Reap { .. }
                        | WriteOp::SetBrkStart { .. }
                );
                if mem || rng.chance(40) {
                    break op;
                }
            };
            let r = l.run(op.clone());
            g.observe(&op, &r);
            if rng.chance(30) {
                l.random_cow_write(&mut rng, seed);
            }
        }
        for g in &gens {
            for op in g.teardown() {
                let _ = l.run(op);
            }
        }
        assert!(
            l.given.len() > 300,
            "seed {seed}: only {} frames installed",
            l.given.len()
        );
        assert!(
            l.owned.is_empty(),
            "seed {seed}: frames never returned: {:x?}",
            l.owned
        );
        assert_eq!(l.returned, l.given, "seed {seed}");
        assert_eq!(
            l.mem.live_tables(),
            0,
            "seed {seed}: page-table frames leaked"
        );
        l.nr.with_data(0, |d| assert_eq!(d.process_count(), 0));
        for (k, v) in &l.by_op {
            *by_op.entry(k.clone()).or_default() += v;
        }
    }
    // Every release path was exercised with populated pages.
    for kind in ["Munmap", "Mmap", "Brk", "Discard", "ResetVm", "Exit", "Cow"] {
        assert!(
            by_op.get(kind).copied().unwrap_or(0) > 0,
            "no frame ever came back through {kind}: {by_op:?}"
        );
    }
}

/// `Discard` is implemented as unmap + re-map of each overlapping VMA piece.
/// With the address space at `MAX_VMAS`, a range covering a whole VMA `A`
/// and the head of the next VMA `Z` discards `A`'s pages (piece 1 succeeds),
/// then fails on piece 2 (splitting `Z` needs one more VMA) and returns
/// `ENOMEM`: the frames already removed from the page table in piece 1 are
/// dropped with the partial result and never returned to the caller.
/// (Linux MADV_DONTNEED never splits VMAs and cannot fail this way.)
#[test]
fn discard_failing_midway_loses_frames() {
    let mut l = Ledger::new();
    let pid = l.pid();
    let x = 0x1000_0000u64;
    // A: one page rw; Z: two pages r, adjacent (different prot: not merged).
    l.mmap(pid, MapAt::Fixed(x), PAGE, 3, VmaKind::Anon)
        .unwrap();
    l.mmap(pid, MapAt::Fixed(x + PAGE), 2 * PAGE, 1, VmaKind::Anon)
        .unwrap();
    assert_eq!(
        l.populate(pid, &[(x, 0xA000_0000), (x + PAGE, 0xA000_1000)]),
        vec![Ok(Populated::Installed); 2]
    );
    // Fill up to MAX_VMAS with separate one-page VMAs (applied directly: the
    // ledger check after each of 65k ops would be slow).
    let base = 0x2000_0000u64;
    let fill = vspace::MAX_VMAS - 2;
    for i in 0..fill as u64 {
        let r = l.nr.execute_mut(
            WriteOp::Mmap {
                pid,
                at: MapAt::Fixed(base + 2 * i * PAGE),
                len: PAGE,
                prot: 1,
                kind: VmaKind::Anon,
            },
            l.tok,
        );
        assert!(r.is_ok(), "filler {i}: {r:?}");
    }
    l.nr.with_data(0, |d| {
        assert_eq!(
            d.process(pid).unwrap().vm.as_ref().unwrap().vmas().count(),
            vspace::MAX_VMAS
        )
    });
    let r = l.run(WriteOp::Discard {
        pid,
        start: x,
        len: 2 * PAGE,
    });
    // Either it works (Linux) and returns both frames, or it fails without
    // side effects; `run` checks that no frame vanished.
    if let Ok(Resp::Frames(f)) = &r {
        assert_eq!(sorted(f.free.clone()), vec![0xA000_0000, 0xA000_1000]);
    }
}

//! Random operation sequences on a small address space, checked against a
//! naive per-page model; two replicas with different page-table frame
//! numberings must stay hash-identical; frames are accounted exactly.

use std::collections::{BTreeMap, BTreeSet};

use abi::Errno;
use proptest::prelude::*;
use vspace::fake::FakeMemory;
use vspace::{
    Access, AddressSpace, FaultDecision, Layout, MapAt, Populated, PteFlags, VmaKind, PAGE_SIZE,
    PROT_EXEC, PROT_READ, PROT_WRITE,
};

const P: u64 = PAGE_SIZE;
/// The layout: pages 0..NPAGES above BASE, mmap base at page MMAP_PAGE. The
/// window straddles a PML4-entry boundary (512 GiB), so it spans two
/// complete table paths and exercises allocation/freeing at every level.
const BASE: u64 = (1 << 39) - 24 * P;
const NPAGES: i64 = 48;
const MMAP_PAGE: i64 = 32;

fn layout() -> Layout {
    Layout {
        min_addr: BASE,
        mmap_base: BASE + MMAP_PAGE as u64 * P,
        end: BASE + NPAGES as u64 * P,
        max_vmas: 1000,
    }
}

/// Address of page `i` (may be below BASE for negative `i`).
fn va(i: i64) -> u64 {
    (BASE as i64 + i * P as i64) as u64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    Anon,
    Stack,
    Heap,
    File(u64, u64),
}

impl K {
    fn kind(self) -> VmaKind {
        match self {
            K::Anon => VmaKind::Anon,
            K::Stack => VmaKind::Stack,
            K::Heap => VmaKind::Heap,
            K::File(ino, page) => VmaKind::File {
                ino,
                offset: page * P,
            },
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum At {
    Any,
    Hint(i64, u64),
    Fixed(i64),
    NoReplace(i64),
}

#[derive(Clone, Debug)]
enum Op {
    Map {
        at: At,
        pages: u64,
        prot: u32,
        kind: K,
    },
    Unmap {
        page: i64,
        pages: u64,
        unaligned: bool,
    },
    Protect {
        page: i64,
        pages: u64,
        prot: u32,
    },
    Populate {
        page: i64,
        off: u64,
    },
    Brk {
        page: i64,
        off: u64,
    },
    Fault {
        page: i64,
        write: bool,
        exec: bool,
    },
    /// Only in the OOM variant: limit the table allocations.
    Budget(Option<usize>),
}

fn page() -> impl Strategy<Value = i64> {
    -2i64..NPAGES + 3
}

fn prot() -> impl Strategy<Value = u32> {
    prop_oneof![10 => 0u32..8, 1 => Just(8u32)]
}

fn kind() -> impl Strategy<Value = K> {
    prop_oneof![
        3 => Just(K::Anon),
        1 => Just(K::Stack),
        1 => Just(K::Heap),
        2 => (0u64..2, 0u64..4).prop_map(|(i, o)| K::File(i, o)),
    ]
}

fn op(oom: bool) -> impl Strategy<Value = Op> {
    let at = prop_oneof![
        Just(At::Any),
        (page(), prop_oneof![Just(0u64), Just(1), Just(P - 1)]).prop_map(|(p, o)| At::Hint(p, o)),
        page().prop_map(At::Fixed),
        page().prop_map(At::NoReplace),
    ];
    let budget = if oom { 2 } else { 0 };
    prop_oneof![
        4 => (at, 0u64..9, prot(), kind()).prop_map(|(at, pages, prot, kind)| Op::Map { at, pages, prot, kind }),
        3 => (page(), 0u64..10, proptest::bool::weighted(0.05))
            .prop_map(|(page, pages, unaligned)| Op::Unmap { page, pages, unaligned }),
        3 => (page(), 0u64..10, prot()).prop_map(|(page, pages, prot)| Op::Protect { page, pages, prot }),
        6 => (page(), 0u64..P).prop_map(|(page, off)| Op::Populate { page, off }),
        2 => (page(), prop_oneof![Just(0u64), Just(1), Just(P - 1)]).prop_map(|(page, off)| Op::Brk { page, off }),
        2 => (page(), any::<bool>(), any::<bool>()).prop_map(|(page, write, exec)| Op::Fault { page, write, exec }),
        budget => proptest::option::of(0usize..4).prop_map(Op::Budget),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KAt {
    Anon,
    Stack,
    Heap,
    File(u64, u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Page {
    prot: u32,
    kind: KAt,
    frame: Option<u64>,
}

/// The naive model: one entry per mapped page (index relative to BASE).
#[derive(Default)]
struct Model {
    pages: BTreeMap<i64, Page>,
    brk: Option<(u64, u64)>,
}

fn page_up(x: u64) -> u64 {
    (x + P - 1) & !(P - 1)
}

fn idx(a: u64) -> i64 {
    (a as i64 - BASE as i64) / P as i64
}

impl Model {
    fn free(&self, a: u64, len: u64) -> bool {
        (idx(a)..idx(a + len)).all(|i| !self.pages.contains_key(&i))
    }

    fn top_down(&self, len: u64, top: u64) -> Option<u64> {
        let mut a = top.checked_sub(len)?;
        loop {
            if a < BASE {
                return None;
            }
            if self.free(a, len) {
                return Some(a);
            }
            a = a.checked_sub(P)?;
        }
    }

    fn remove(&mut self, start: u64, end: u64) -> Vec<u64> {
        let mut out = vec![];
        for i in idx(start)..idx(end) {
            if let Some(p) = self.pages.remove(&i) {
                out.extend(p.frame);
            }
        }
        out
    }

    fn map(&mut self, at: At, pages: u64, prot: u32, kind: K) -> Result<(u64, Vec<u64>), Errno> {
        if prot > 7 || pages == 0 {
            return Err(Errno::EINVAL);
        }
        let len = pages * P;
        let l = layout();
        let addr = match at {
            At::Fixed(p) | At::NoReplace(p) => {
                let a = va(p);
                if a < BASE {
                    return Err(Errno::EPERM);
                }
                if a + len > l.end {
                    return Err(Errno::ENOMEM);
                }
                if matches!(at, At::NoReplace(_)) && !self.free(a, len) {
                    return Err(Errno::EEXIST);
                }
                a
            }
            At::Hint(p, off) => {
                let h = page_up(va(p) + off);
                if va(p) + off != 0 && h >= BASE && h + len <= l.end && self.free(h, len) {
                    h
                } else {
                    self.top_down(len, l.mmap_base)
                        .or_else(|| self.top_down(len, l.end))
                        .ok_or(Errno::ENOMEM)?
                }
            }
            At::Any => self
                .top_down(len, l.mmap_base)
                .or_else(|| self.top_down(len, l.end))
                .ok_or(Errno::ENOMEM)?,
        };
        let released = self.remove(addr, addr + len);
        for (n, i) in (idx(addr)..idx(addr + len)).enumerate() {
            let kind = match kind {
                K::Anon => KAt::Anon,
                K::Stack => KAt::Stack,
                K::Heap => KAt::Heap,
                K::File(ino, o) => KAt::File(ino, (o + n as u64) * P),
            };
            self.pages.insert(
                i,
                Page {
                    prot,
                    kind,
                    frame: None,
                },
            );
        }
        Ok((addr, released))
    }

    fn unmap(&mut self, start: u64, pages: u64, unaligned: bool) -> Result<Vec<u64>, Errno> {
        let end = layout().end;
        if unaligned || pages == 0 || start > end || pages * P > end - start {
            return Err(Errno::EINVAL);
        }
        Ok(self.remove(start, start + pages * P))
    }

    fn protect(&mut self, start: u64, pages: u64, prot: u32) -> Result<(), Errno> {
        if prot > 7 {
            return Err(Errno::EINVAL);
        }
        let r = idx(start)..idx(start) + pages as i64;
        if r.clone().any(|i| !self.pages.contains_key(&i)) {
            return Err(Errno::ENOMEM);
        }
        for i in r {
            self.pages.get_mut(&i).unwrap().prot = prot;
        }
        Ok(())
    }

    fn brk(&mut self, new: u64) -> (u64, Vec<u64>) {
        let Some((start, cur)) = self.brk else {
            return (0, vec![]);
        };
        if new < start || new > layout().end {
            return (cur, vec![]);
        }
        let (old_end, new_end) = (page_up(cur), page_up(new));
        let mut released = vec![];
        if new_end < old_end {
            released = self.remove(new_end, old_end);
        } else if new_end > old_end {
            if !self.free(old_end, new_end - old_end) {
                return (cur, vec![]);
            }
            for i in idx(old_end)..idx(new_end) {
                self.pages.insert(
                    i,
                    Page {
                        prot: PROT_READ | PROT_WRITE,
                        kind: KAt::Heap,
                        frame: None,
                    },
                );
            }
        }
        self.brk = Some((start, new));
        (new, released)
    }

    fn fault(&self, i: i64, a: Access) -> FaultDecision {
        let Some(p) = self.pages.get(&i) else {
            return FaultDecision::Segv { accerr: false };
        };
        if p.prot == 0
            || (a.write && p.prot & PROT_WRITE == 0)
            || (a.exec && p.prot & PROT_EXEC == 0)
        {
            return FaultDecision::Segv { accerr: true };
        }
        if p.frame.is_some() {
            return FaultDecision::Spurious;
        }
        match p.kind {
            KAt::File(ino, off) => FaultDecision::NeedsFrame {
                zero: false,
                file: Some((ino, off)),
            },
            _ => FaultDecision::NeedsFrame {
                zero: true,
                file: None,
            },
        }
    }

    /// The canonical (maximally merged) VMA list.
    fn vmas(&self) -> Vec<(u64, u64, u32, VmaKind)> {
        let mut out: Vec<(u64, u64, u32, VmaKind)> = vec![];
        for (&i, p) in &self.pages {
            let start = va(i);
            let kind = match p.kind {
                KAt::Anon => VmaKind::Anon,
                KAt::Stack => VmaKind::Stack,
                KAt::Heap => VmaKind::Heap,
                KAt::File(ino, offset) => VmaKind::File { ino, offset },
            };
            if let Some(last) = out.last_mut() {
                let merge = last.1 == start
                    && last.2 == p.prot
                    && match (last.3, kind) {
                        (
                            VmaKind::File { ino: a, offset: oa },
                            VmaKind::File { ino: b, offset: ob },
                        ) => a == b && oa + (last.1 - last.0) == ob,
                        (x, y) => x == y,
                    };
                if merge {
                    last.1 = start + P;
                    continue;
                }
            }
            out.push((start, start + P, p.prot, kind));
        }
        out
    }
}

type Space = AddressSpace<FakeMemory>;

fn check_against_model(s: &Space, m: &Model) -> Result<(), TestCaseError> {
    if let Err(e) = s.check_invariants() {
        return Err(TestCaseError::fail(format!("invariant: {e}")));
    }
    let vmas: Vec<_> = s.vmas().map(|v| (v.start, v.end, v.prot, v.kind)).collect();
    prop_assert_eq!(vmas, m.vmas());
    let resident: Vec<(u64, u64)> = s.resident_pages().collect();
    let model_res: Vec<(u64, u64)> = m
        .pages
        .iter()
        .filter_map(|(&i, p)| p.frame.map(|f| (va(i), f)))
        .collect();
    prop_assert_eq!(resident, model_res);
    for i in -2..NPAGES + 3 {
        let expect = m.pages.get(&i).and_then(|p| {
            p.frame
                .filter(|_| p.prot != 0)
                .map(|f| (f + 9, PteFlags::from_prot(p.prot)))
        });
        prop_assert_eq!(s.translate(va(i) + 9), expect, "translate page {}", i);
    }
    prop_assert_eq!(s.brk_state(), m.brk);
    Ok(())
}

/// Runs `ops` on two replicas (different table-frame numberings) and the
/// model. In the OOM variant both replicas get the same table-frame budgets:
/// they need the same number of tables, so they fail identically.
fn run(brk_start: i64, ops: Vec<Op>, oom: bool) -> Result<(), TestCaseError> {
    let mut a = Space::with_layout(FakeMemory::with_numbering(0x100_0000, P), layout()).unwrap();
    let mut b =
        Space::with_layout(FakeMemory::with_numbering(0x7000_0000, 5 * P), layout()).unwrap();
    let mut m = Model::default();
    let bs = va(brk_start);
    a.set_brk_start(bs).unwrap();
    b.set_brk_start(bs).unwrap();
    m.brk = Some((bs, bs));

    let mut next_frame = 0x1_0000_0000u64;
    let mut live: BTreeSet<u64> = BTreeSet::new();
    let release = |frames: &[u64], live: &mut BTreeSet<u64>| -> Result<(), TestCaseError> {
        for f in frames {
            prop_assert!(live.remove(f), "frame {:#x} released but not live", f);
        }
        Ok(())
    };

    for op in ops {
        match op {
            Op::Map {
                at,
                pages,
                prot,
                kind,
            } => {
                let at2 = match at {
                    At::Any => MapAt::Any,
                    At::Hint(p, o) => MapAt::Hint(va(p) + o),
                    At::Fixed(p) => MapAt::Fixed(va(p)),
                    At::NoReplace(p) => MapAt::FixedNoReplace(va(p)),
                };
                let r = a.map(at2, pages * P, prot, kind.kind());
                prop_assert_eq!(&r, &b.map(at2, pages * P, prot, kind.kind()));
                prop_assert_eq!(&r, &m.map(at, pages, prot, kind));
                if let Ok((_, fr)) = &r {
                    release(fr, &mut live)?;
                }
            }
            Op::Unmap {
                page,
                pages,
                unaligned,
            } => {
                let start = va(page) + unaligned as u64;
                let r = a.unmap(start, pages * P);
                prop_assert_eq!(&r, &b.unmap(start, pages * P));
                prop_assert_eq!(&r, &m.unmap(start, pages, unaligned));
                if let Ok(fr) = &r {
                    release(fr, &mut live)?;
                }
            }
            Op::Protect { page, pages, prot } => {
                let r = a.protect(va(page), pages * P, prot);
                prop_assert_eq!(r, b.protect(va(page), pages * P, prot));
                prop_assert_eq!(r, m.protect(va(page), pages, prot));
            }
            Op::Populate { page, off } => {
                let f = next_frame;
                next_frame += P;
                let budget = a.mem().budget();
                let before = a.state_hash();
                let r = a.populate(va(page) + off, f);
                prop_assert_eq!(r, b.populate(va(page) + off, f));
                let expect = match m.pages.get(&page) {
                    None => Err(Errno::EFAULT),
                    Some(p) if p.frame.is_some() => Ok(Populated::AlreadyPresent),
                    Some(_) => Ok(Populated::Installed),
                };
                if r == Err(Errno::ENOMEM) {
                    // Out of table frames (same budget, same table count on
                    // both replicas): nothing changed.
                    prop_assert!(oom && budget.is_some_and(|b| b < 3), "spurious ENOMEM");
                    prop_assert_eq!(expect, Ok(Populated::Installed));
                    prop_assert_eq!(a.state_hash(), before);
                } else {
                    prop_assert_eq!(r, expect);
                    if r == Ok(Populated::Installed) {
                        m.pages.get_mut(&page).unwrap().frame = Some(f);
                        prop_assert!(live.insert(f));
                    }
                }
            }
            Op::Brk { page, off } => {
                let new = va(page) + off;
                let r = a.brk(new);
                prop_assert_eq!(&r, &b.brk(new));
                prop_assert_eq!(&r, &m.brk(new));
                release(&r.1, &mut live)?;
            }
            Op::Fault { page, write, exec } => {
                let acc = Access {
                    write,
                    exec,
                    user: true,
                };
                let r = a.fault_decision(va(page) + 17, acc);
                prop_assert_eq!(r, b.fault_decision(va(page) + 17, acc));
                prop_assert_eq!(r, m.fault(page, acc));
            }
            Op::Budget(n) => {
                a.mem_mut().set_budget(n);
                b.mem_mut().set_budget(n);
            }
        }
        check_against_model(&a, &m)?;
        check_against_model(&b, &m)?;
        prop_assert_eq!(a.state_hash(), b.state_hash());
    }

    // Tear down: each replica returns exactly the live frames, all tables
    // are freed.
    let live: Vec<u64> = live.into_iter().collect();
    for s in [a, b] {
        let (mem, mut frames) = s.destroy();
        frames.sort_unstable();
        prop_assert_eq!(&frames, &live);
        prop_assert_eq!(mem.live_tables(), 0);
        let (allocs, frees) = mem.counts();
        prop_assert_eq!(allocs, frees);
    }
    Ok(())
}

proptest! {
    // 256 cases by default; more with PROPTEST_CASES=N.
    #[test]
    fn ops_match_model(brk_start in 0i64..NPAGES, ops in proptest::collection::vec(op(false), 1..80)) {
        run(brk_start, ops, false)?;
    }

    #[test]
    fn ops_match_model_with_table_oom(brk_start in 0i64..NPAGES, ops in proptest::collection::vec(op(true), 1..80)) {
        run(brk_start, ops, true)?;
    }
}

/// Pages spread over many page-table subtrees: unmapping and protecting
/// large sparse ranges frees exactly the tables that become empty.
#[test]
fn sparse_wide_ranges() {
    let wide = Layout {
        min_addr: 0x1_0000,
        mmap_base: 0x7f00_0000_0000,
        end: 0x7fff_ffff_f000,
        max_vmas: 100,
    };
    let mut s = Space::with_layout(FakeMemory::new(), wide).unwrap();
    let mut frames = vec![];
    s.map(
        MapAt::Fixed(0x1_0000),
        0x7fff_ffff_f000 - 0x1_0000,
        PROT_READ,
        VmaKind::Anon,
    )
    .unwrap();
    for (n, shift) in [16u32, 21, 30, 39, 45].iter().enumerate() {
        for k in 1..3u64 {
            let a = (k << shift) + 0x5000;
            let f = 0x9_0000_0000 + (n as u64 * 4 + k) * P;
            assert_eq!(s.populate(a, f), Ok(Populated::Installed));
            frames.push((a, f));
        }
    }
    frames.sort_unstable();
    assert_eq!(s.resident_pages().collect::<Vec<_>>(), frames);
    s.protect(0x40_0000, 0x4000_0000_0000, PROT_READ | PROT_WRITE)
        .unwrap();
    s.check_invariants().unwrap();
    let released = s.unmap(0x40_0000, 0x4000_0000_0000).unwrap();
    let expect: Vec<u64> = frames
        .iter()
        .filter(|(a, _)| (0x40_0000..0x4000_0040_0000).contains(a))
        .map(|x| x.1)
        .collect();
    assert_eq!(released, expect);
    s.check_invariants().unwrap();
    let rest = s.unmap(0x1_0000, 0x7fff_ffff_f000 - 0x1_0000).unwrap();
    assert_eq!(rest.len() + released.len(), frames.len());
    assert_eq!(s.page_table().table_count(), 1);
    assert_eq!(s.vmas().count(), 0);
}

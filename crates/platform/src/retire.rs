//! Deferred freeing of page-table frames.
//!
//! A core caches more than leaf translations: its paging-structure caches
//! keep pointers to the intermediate tables it walked (Intel SDM vol. 3,
//! 4.10.3), and they survive until the core writes CR3 (or invalidates the
//! address). So a table unlinked from a live hierarchy must not be reused
//! while some core may still walk it through such a cached pointer: a
//! reused frame would be read as page-table entries, and the walker would
//! set accessed/dirty bits in it.
//!
//! The kernel tags each unlinked table with a fresh generation number
//! ([`Generations`]) and keeps it on a FIFO ([`RetireList`], linked through
//! the retired frames themselves) until every core is past it: it has
//! written CR3 since (each core remembers the generation current just before
//! its last CR3 write) or it runs on the kernel's root, which reaches no
//! user table.

/// How one core stands towards retired tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreView {
    /// The core's CR3 holds the kernel root (no user table is reachable).
    pub on_kernel_root: bool,
    /// The generation read just before the core's last CR3 write: tables
    /// retired with a smaller tag were unlinked before that write.
    pub gen_at_last_cr3: u64,
}

impl CoreView {
    /// Whether the core may still reach a table retired under `tag`.
    pub fn may_reach(&self, tag: u64) -> bool {
        !self.on_kernel_root && self.gen_at_last_cr3 <= tag
    }
}

/// Tags below the returned value are safe to reuse: no core in `cores` can
/// reach them. `next_tag` is the next tag the kernel would hand out, read
/// before the cores' views.
pub fn safe_below(next_tag: u64, cores: impl IntoIterator<Item = CoreView>) -> u64 {
    cores
        .into_iter()
        .filter(|c| !c.on_kernel_root)
        .map(|c| c.gen_at_last_cr3)
        .fold(next_tag, u64::min)
}

/// Storage of the two link words inside a retired frame.
pub trait Links {
    /// Store `next` (0: none) and `tag` in `frame`.
    fn set(&mut self, frame: u64, next: u64, tag: u64);
    /// The `(next, tag)` stored in `frame`.
    fn get(&self, frame: u64) -> (u64, u64);
}

/// FIFO of retired frames in tag order, linked through the frames (no
/// memory needed beyond them). Frame 0 is never a valid entry.
#[derive(Debug, Default)]
pub struct RetireList {
    head: u64,
    tail: u64,
    len: usize,
}

impl RetireList {
    /// An empty list.
    pub const fn new() -> Self {
        RetireList {
            head: 0,
            tail: 0,
            len: 0,
        }
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `frame` retired under `tag` (tags must not decrease).
    pub fn push(&mut self, frame: u64, tag: u64, links: &mut impl Links) {
        debug_assert!(frame != 0);
        links.set(frame, 0, tag);
        if self.tail == 0 {
            self.head = frame;
        } else {
            let (_, t) = links.get(self.tail);
            debug_assert!(t <= tag, "retire tags must not decrease");
            links.set(self.tail, frame, t);
        }
        self.tail = frame;
        self.len += 1;
    }

    /// Remove and return the oldest frame if its tag is below `safe`.
    pub fn pop_safe(&mut self, safe: u64, links: &impl Links) -> Option<u64> {
        if self.head == 0 {
            return None;
        }
        let (next, tag) = links.get(self.head);
        if tag >= safe {
            return None;
        }
        let f = self.head;
        self.head = next;
        if next == 0 {
            self.tail = 0;
        }
        self.len -= 1;
        Some(f)
    }

    /// Smallest tag waiting, if any.
    pub fn oldest_tag(&self, links: &impl Links) -> Option<u64> {
        (self.head != 0).then(|| links.get(self.head).1)
    }

    /// Largest tag waiting, if any.
    pub fn newest_tag(&self, links: &impl Links) -> Option<u64> {
        (self.tail != 0).then(|| links.get(self.tail).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    #[derive(Default)]
    struct Mem(BTreeMap<u64, (u64, u64)>);
    impl Links for Mem {
        fn set(&mut self, frame: u64, next: u64, tag: u64) {
            self.0.insert(frame, (next, tag));
        }
        fn get(&self, frame: u64) -> (u64, u64) {
            self.0[&frame]
        }
    }

    fn view(on_kernel_root: bool, gen_at_last_cr3: u64) -> CoreView {
        CoreView {
            on_kernel_root,
            gen_at_last_cr3,
        }
    }

    #[test]
    fn the_slowest_user_core_bounds_reuse() {
        assert_eq!(safe_below(10, [view(false, 7), view(false, 3)]), 3);
        // Cores on the kernel root do not hold anything back.
        assert_eq!(safe_below(10, [view(true, 0), view(false, 9)]), 9);
        assert_eq!(safe_below(10, [view(true, 0), view(true, 1)]), 10);
        assert_eq!(safe_below(10, []), 10);
        assert!(view(false, 7).may_reach(7));
        assert!(!view(false, 8).may_reach(7));
        assert!(!view(true, 0).may_reach(7));
    }

    #[test]
    fn frames_leave_in_order_once_safe() {
        let mut m = Mem::default();
        let mut l = RetireList::new();
        assert_eq!(l.pop_safe(u64::MAX, &m), None);
        for (i, f) in [0x1000u64, 0x5000, 0x3000].into_iter().enumerate() {
            l.push(f, 10 + i as u64, &mut m);
        }
        assert_eq!(l.len(), 3);
        assert_eq!(l.newest_tag(&m), Some(12));
        assert_eq!(l.oldest_tag(&m), Some(10));
        assert_eq!(l.pop_safe(10, &m), None, "tag 10 is not below 10");
        assert_eq!(l.pop_safe(12, &m), Some(0x1000));
        assert_eq!(l.pop_safe(12, &m), Some(0x5000));
        assert_eq!(l.pop_safe(12, &m), None);
        l.push(0x9000, 13, &mut m);
        assert_eq!(l.pop_safe(u64::MAX, &m), Some(0x3000));
        assert_eq!(l.pop_safe(u64::MAX, &m), Some(0x9000));
        assert!(l.is_empty());
        assert_eq!(l.newest_tag(&m), None);
        assert_eq!(l.oldest_tag(&m), None);
        // Reusable after draining.
        l.push(0x2000, 20, &mut m);
        assert_eq!(l.pop_safe(21, &m), Some(0x2000));
    }

    proptest::proptest! {
        /// Against a model: whatever is pushed comes out once, in order, and
        /// never before its tag is safe.
        #[test]
        fn matches_a_queue(ops in proptest::collection::vec((proptest::bool::ANY, 0u64..4), 1..200)) {
            let mut m = Mem::default();
            let mut l = RetireList::new();
            let mut model: std::collections::VecDeque<(u64, u64)> = Default::default();
            let (mut tag, mut next_frame, mut safe) = (0u64, 1u64, 0u64);
            let mut out = Vec::new();
            for (push, step) in ops {
                if push {
                    tag += step;
                    l.push(next_frame << 12, tag, &mut m);
                    model.push_back((next_frame << 12, tag));
                    next_frame += 1;
                } else {
                    safe += step;
                    while let Some(f) = l.pop_safe(safe, &m) {
                        let (mf, mt) = model.pop_front().expect("model has it");
                        proptest::prop_assert_eq!(f, mf);
                        proptest::prop_assert!(mt < safe);
                        out.push(f);
                    }
                    proptest::prop_assert!(model.front().is_none_or(|&(_, t)| t >= safe));
                }
                proptest::prop_assert_eq!(l.len(), model.len());
            }
        }
    }
}

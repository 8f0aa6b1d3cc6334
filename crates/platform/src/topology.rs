//! Machine topology: cores, NUMA nodes, each node's memory and distances.
//!
//! [`build`] combines the ACPI information (MADT, SRAT, SLIT) with the usable
//! RAM ranges into dense core and node numbers for the kernel.

use alloc::vec;
use alloc::vec::Vec;

use crate::acpi::AcpiInfo;
use crate::page_align_down;

/// One core (logical CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Core {
    /// Dense core number: 0 is the BSP, the others follow in MADT order.
    pub id: usize,
    /// The core's (x2)APIC ID.
    pub apic_id: u32,
    /// The NUMA node ([`Node::id`]) the core belongs to.
    pub node: usize,
}

/// One NUMA node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Dense node number (proximity domains renumbered 0.. in increasing order).
    pub id: usize,
    /// The node's usable memory: sorted, disjoint `(start, end)` ranges.
    pub memory: Vec<(u64, u64)>,
    /// `distances[j]` is the SLIT distance from this node to node `j`
    /// (10 to itself and 20 to others when there is no SLIT).
    pub distances: Vec<u8>,
}

/// Cores and NUMA nodes of the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// All enabled cores, indexed by [`Core::id`].
    pub cores: Vec<Core>,
    /// All nodes, indexed by [`Node::id`]; never empty.
    pub nodes: Vec<Node>,
}

/// Distance of a node to itself when there is no SLIT.
pub const LOCAL_DISTANCE: u8 = 10;
/// Distance between two different nodes when there is no SLIT.
pub const REMOTE_DISTANCE: u8 = 20;

impl Topology {
    /// Node of the core with this APIC ID, if it is a known core.
    pub fn node_of_apic(&self, apic_id: u32) -> Option<usize> {
        self.core_of_apic(apic_id).map(|c| self.cores[c].node)
    }

    /// Dense core number of the core with this APIC ID.
    pub fn core_of_apic(&self, apic_id: u32) -> Option<usize> {
        self.cores.iter().position(|c| c.apic_id == apic_id)
    }

    /// Usable memory of `node` in MiB, rounded down (0 for an unknown node).
    pub fn memory_mib(&self, node: usize) -> u64 {
        self.memory_bytes(node) >> 20
    }

    /// Usable memory of `node` in bytes (0 for an unknown node).
    pub fn memory_bytes(&self, node: usize) -> u64 {
        self.nodes
            .get(node)
            .map_or(0, |n| crate::memmap::total_bytes(&n.memory))
    }

    /// Cores of `node`, in core-number order.
    pub fn cores_of_node(&self, node: usize) -> impl Iterator<Item = &Core> + '_ {
        self.cores.iter().filter(move |c| c.node == node)
    }

    /// Distance from node `a` to node `b` (`None` if either is unknown).
    pub fn distance(&self, a: usize, b: usize) -> Option<u8> {
        self.nodes.get(a)?.distances.get(b).copied()
    }
}

/// Builds the topology.
///
/// - Cores: the enabled MADT processors (online-capable but disabled ones are
///   left out), the BSP (`bsp_apic_id`) first as core 0, the others in MADT
///   order. If the MADT does not list the BSP it is added anyway.
/// - Nodes: the proximity domains seen in the SRAT (processor and memory
///   entries), renumbered densely 0.. in increasing domain order. Without
///   SRAT (or an empty one) there is a single node 0.
/// - A core without SRAT entry belongs to node 0.
/// - Memory: each `usable` range is split at SRAT memory-range boundaries
///   (rounded down to 4 KiB) and each piece given to the node of its SRAT
///   range; pieces no SRAT range covers go to node 0. Where SRAT ranges
///   overlap, the one with the lower start address wins.
/// - Distances: SLIT entries for the nodes' domains; where the SLIT is
///   absent or too small, [`LOCAL_DISTANCE`] / [`REMOTE_DISTANCE`].
pub fn build(acpi: &AcpiInfo, bsp_apic_id: u32, usable: &[(u64, u64)]) -> Topology {
    // Proximity domains, dense.
    let mut domains: Vec<u32> = Vec::new();
    if let Some(srat) = &acpi.srat {
        domains.extend(srat.cpus.iter().map(|&(_, d)| d));
        domains.extend(srat.memory.iter().map(|&(_, _, d)| d));
    }
    domains.sort_unstable();
    domains.dedup();
    if domains.is_empty() {
        domains.push(0);
    }
    let node_of_domain = |d: u32| domains.binary_search(&d).unwrap_or(0);

    // Cores.
    let node_of_cpu = |apic_id: u32| {
        acpi.srat
            .as_ref()
            .and_then(|s| s.cpus.iter().find(|&&(a, _)| a == apic_id))
            .map_or(0, |&(_, d)| node_of_domain(d))
    };
    let mut apic_ids: Vec<u32> = vec![bsp_apic_id];
    apic_ids.extend(
        acpi.cpus
            .iter()
            .filter(|c| c.enabled && c.apic_id != bsp_apic_id)
            .map(|c| c.apic_id),
    );
    let cores = apic_ids
        .into_iter()
        .enumerate()
        .map(|(id, apic_id)| Core {
            id,
            apic_id,
            node: node_of_cpu(apic_id),
        })
        .collect();

    // Memory.
    let mut nodes: Vec<Node> = (0..domains.len())
        .map(|id| Node {
            id,
            memory: Vec::new(),
            distances: Vec::new(),
        })
        .collect();
    // SRAT ranges, page-aligned, sorted, overlaps trimmed.
    let mut srat_mem: Vec<(u64, u64, usize)> = acpi
        .srat
        .as_ref()
        .map(|s| {
            s.memory
                .iter()
                .map(|&(a, b, d)| (page_align_down(a), page_align_down(b), node_of_domain(d)))
                .collect()
        })
        .unwrap_or_default();
    srat_mem.sort_unstable();
    let mut trimmed: Vec<(u64, u64, usize)> = Vec::with_capacity(srat_mem.len());
    for (mut a, b, n) in srat_mem {
        if let Some(&(_, pe, _)) = trimmed.last() {
            a = a.max(pe);
        }
        if a < b {
            trimmed.push((a, b, n));
        }
    }
    let mut add = |node: usize, s: u64, e: u64| {
        if s >= e {
            return;
        }
        let mem = &mut nodes[node].memory;
        match mem.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => mem.push((s, e)),
        }
    };
    let mut usable: Vec<(u64, u64)> = usable.to_vec();
    crate::memmap::merge_ranges(&mut usable);
    for (s, e) in usable {
        let mut cur = s;
        for &(a, b, n) in trimmed.iter().filter(|&&(a, b, _)| a < e && b > s) {
            if a > cur {
                add(0, cur, a);
            }
            let ps = a.max(cur);
            let pe = b.min(e);
            add(n, ps, pe);
            cur = cur.max(pe);
        }
        add(0, cur, e);
    }
    // Node 0 may have received uncovered pieces out of order.
    for n in &mut nodes {
        crate::memmap::merge_ranges(&mut n.memory);
    }

    // Distances.
    let count = domains.len();
    for (i, node) in nodes.iter_mut().enumerate() {
        node.distances = (0..count)
            .map(|j| {
                let (di, dj) = (domains[i] as usize, domains[j] as usize);
                acpi.slit
                    .as_ref()
                    .and_then(|m| m.get(di)?.get(dj).copied())
                    .unwrap_or(if i == j {
                        LOCAL_DISTANCE
                    } else {
                        REMOTE_DISTANCE
                    })
            })
            .collect();
    }

    Topology { cores, nodes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acpi::{CpuEntry, Srat};

    const MIB: u64 = 1 << 20;

    fn info(cpus: &[(u32, bool)], srat: Option<Srat>, slit: Option<Vec<Vec<u8>>>) -> AcpiInfo {
        AcpiInfo {
            rsdp_revision: 2,
            oem_id: *b"BOCHS ",
            local_apic_addr: 0xfee0_0000,
            pcat_compat: true,
            cpus: cpus
                .iter()
                .enumerate()
                .map(|(i, &(apic_id, enabled))| CpuEntry {
                    acpi_uid: i as u32,
                    apic_id,
                    enabled,
                })
                .collect(),
            io_apics: vec![],
            interrupt_overrides: vec![],
            local_apic_nmis: vec![],
            srat,
            slit,
            tables: vec![],
        }
    }

    #[test]
    fn qemu_two_nodes() {
        let srat = Srat {
            cpus: vec![(0, 0), (1, 0), (2, 1), (3, 1)],
            memory: vec![
                (0, 0xa0000, 0),
                (MIB, 256 * MIB, 0),
                (256 * MIB, 512 * MIB, 1),
            ],
        };
        let acpi = info(
            &[(0, true), (1, true), (2, true), (3, true)],
            Some(srat),
            Some(vec![vec![10, 21], vec![21, 10]]),
        );
        let usable = [(3 * MIB, 500 * MIB), (501 * MIB, 510 * MIB)];
        let t = build(&acpi, 0, &usable);
        assert_eq!(
            t.cores
                .iter()
                .map(|c| (c.id, c.apic_id, c.node))
                .collect::<Vec<_>>(),
            vec![(0, 0, 0), (1, 1, 0), (2, 2, 1), (3, 3, 1)]
        );
        assert_eq!(t.nodes.len(), 2);
        assert_eq!(t.nodes[0].memory, vec![(3 * MIB, 256 * MIB)]);
        assert_eq!(
            t.nodes[1].memory,
            vec![(256 * MIB, 500 * MIB), (501 * MIB, 510 * MIB)]
        );
        assert_eq!(t.memory_mib(0), 253);
        assert_eq!(t.memory_mib(1), 253);
        assert_eq!(t.memory_mib(7), 0);
        assert_eq!(t.nodes[0].distances, vec![10, 21]);
        assert_eq!(t.distance(1, 0), Some(21));
        assert_eq!(t.node_of_apic(3), Some(1));
        assert_eq!(t.node_of_apic(9), None);
        assert_eq!(t.cores_of_node(1).count(), 2);
    }

    #[test]
    fn bsp_first_and_sparse_domains() {
        let srat = Srat {
            cpus: vec![(4, 7), (6, 3)],
            memory: vec![
                (0, 64 * MIB, 3),
                (64 * MIB, 128 * MIB, 7),
                (200 * MIB, 300 * MIB, 9),
            ],
        };
        // Domain 3 -> node 0, 7 -> node 1, 9 -> node 2.
        let acpi = info(
            &[(2, true), (4, true), (5, false), (6, true), (8, true)],
            Some(srat),
            None,
        );
        let usable = [(MIB, 100 * MIB), (150 * MIB, 250 * MIB)];
        let t = build(&acpi, 6, &usable);
        assert_eq!(
            t.cores
                .iter()
                .map(|c| (c.apic_id, c.node))
                .collect::<Vec<_>>(),
            vec![(6, 0), (2, 0), (4, 1), (8, 0)]
        );
        assert_eq!(t.nodes.len(), 3);
        // 150..200 MiB is not covered by SRAT: node 0.
        assert_eq!(
            t.nodes[0].memory,
            vec![(MIB, 64 * MIB), (150 * MIB, 200 * MIB)]
        );
        assert_eq!(t.nodes[1].memory, vec![(64 * MIB, 100 * MIB)]);
        assert_eq!(t.nodes[2].memory, vec![(200 * MIB, 250 * MIB)]);
        assert_eq!(t.nodes[2].distances, vec![20, 20, 10]);
    }

    #[test]
    fn no_srat_single_node() {
        let acpi = info(&[(0, true), (1, true)], None, None);
        let t = build(&acpi, 0, &[(MIB, 2 * MIB), (4 * MIB, 8 * MIB)]);
        assert_eq!(t.nodes.len(), 1);
        assert_eq!(t.nodes[0].memory, vec![(MIB, 2 * MIB), (4 * MIB, 8 * MIB)]);
        assert_eq!(t.nodes[0].distances, vec![10]);
        assert_eq!(t.memory_mib(0), 5);
        // BSP missing from the MADT is still core 0.
        let t = build(&acpi, 42, &[]);
        assert_eq!(t.cores[0].apic_id, 42);
        assert_eq!(t.cores.len(), 3);
    }

    #[test]
    fn overlapping_and_unaligned_srat() {
        let srat = Srat {
            cpus: vec![],
            memory: vec![(0, 0x5800, 1), (0x3000, 0x9000, 2), (0x9000, 0x9000, 4)],
        };
        let acpi = info(&[(0, true)], Some(srat), Some(vec![vec![10]]));
        let t = build(&acpi, 0, &[(0, 0x10000)]);
        // Domains 1, 2, 4 -> nodes 0, 1, 2.
        assert_eq!(t.nodes[0].memory, vec![(0, 0x5000), (0x9000, 0x10000)]);
        assert_eq!(t.nodes[1].memory, vec![(0x5000, 0x9000)]);
        assert!(t.nodes[2].memory.is_empty());
        // SLIT too small: defaults for the rest.
        assert_eq!(t.nodes[0].distances, vec![10, 20, 20]);
        assert_eq!(t.nodes[1].distances, vec![20, 10, 20]);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const PAGES: u64 = 64;

        fn page_range() -> impl Strategy<Value = (u64, u64)> {
            (0..=PAGES, 0..=PAGES).prop_map(|(a, b)| (a * 4096, b * 4096))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn memory_is_partitioned(
                usable in proptest::collection::vec(page_range(), 0..5),
                srat_mem in proptest::collection::vec((page_range(), 0u32..5), 0..5),
                srat_cpus in proptest::collection::vec((0u32..6, 0u32..5), 0..4),
                bsp in 0u32..6,
            ) {
                let srat = Srat {
                    cpus: srat_cpus.clone(),
                    memory: srat_mem.iter().map(|&((a, b), d)| (a, b, d)).filter(|&(a, b, _)| a < b).collect(),
                };
                let has_srat = !srat.cpus.is_empty() || !srat.memory.is_empty();
                let acpi = info(&[(0, true), (1, true), (2, false), (3, true)], Some(srat.clone()), None);
                let t = build(&acpi, bsp, &usable);

                let mut domains: Vec<u32> = srat.cpus.iter().map(|c| c.1).chain(srat.memory.iter().map(|m| m.2)).collect();
                domains.sort_unstable();
                domains.dedup();
                prop_assert_eq!(t.nodes.len(), domains.len().max(1));
                prop_assert_eq!(t.cores[0].apic_id, bsp);
                prop_assert_eq!(t.cores.len(), if bsp == 0 || bsp == 1 || bsp == 3 { 3 } else { 4 });

                let mut owner = std::collections::BTreeMap::new();
                for n in &t.nodes {
                    for w in n.memory.windows(2) {
                        prop_assert!(w[0].1 < w[1].0);
                    }
                    for &(s, e) in &n.memory {
                        for p in (s..e).step_by(4096) {
                            prop_assert!(owner.insert(p, n.id).is_none(), "page {:#x} in two nodes", p);
                        }
                    }
                }
                let in_usable = |p: u64| usable.iter().any(|&(s, e)| s <= p && p < e);
                prop_assert!(owner.keys().all(|&p| in_usable(p)));
                for p in (0..PAGES).map(|p| p * 4096).filter(|&p| in_usable(p)) {
                    let expect = srat
                        .memory
                        .iter()
                        .filter(|&&(a, b, _)| a <= p && p < b)
                        .min()
                        .map_or(0, |&(_, _, d)| domains.binary_search(&d).unwrap());
                    prop_assert_eq!(owner.get(&p).copied(), Some(expect));
                }
                if !has_srat {
                    prop_assert_eq!(t.nodes[0].distances.clone(), vec![10]);
                }
            }
        }
    }
}

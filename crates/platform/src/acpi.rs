//! ACPI table parsing: RSDP, RSDT/XSDT, MADT ("APIC"), SRAT and SLIT.
//!
//! [`parse`] starts at the RSDP, follows the XSDT (RSDP revision >= 2 with a
//! non-zero XSDT address) or else the RSDT, and parses the tables the kernel
//! needs for bring-up and NUMA. Checksums of the RSDP and of every table it
//! parses are verified; a bad checksum is an error. Tables it does not parse
//! are only listed ([`AcpiInfo::tables`]).

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::pvh::PhysRead;

/// Size of the common ACPI system-description-table header.
pub const SDT_HEADER_LEN: usize = 36;
/// Largest table accepted, in bytes; anything longer is treated as corrupt.
pub const MAX_TABLE_LEN: u32 = 1 << 20;
/// Largest extended RSDP length accepted.
const MAX_RSDP_LEN: u32 = 1024;

/// Error from [`parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcpiError {
    /// `len` bytes at `paddr` could not be read.
    Unreadable {
        /// Physical address of the failed read.
        paddr: u64,
        /// Length of the failed read.
        len: u64,
    },
    /// No `"RSD PTR "` signature at the given address.
    BadRsdpSignature,
    /// A table at `paddr` has a different signature than expected.
    BadSignature {
        /// Physical address of the table.
        paddr: u64,
        /// The signature looked for.
        expected: [u8; 4],
        /// The signature found.
        found: [u8; 4],
    },
    /// Bytes of a table (or of the RSDP, signature `"RSDP"`) do not sum to 0.
    BadChecksum {
        /// Signature of the table.
        signature: [u8; 4],
        /// Physical address of the table.
        paddr: u64,
    },
    /// A table's length field is below the header size or above
    /// [`MAX_TABLE_LEN`].
    BadLength {
        /// Signature of the table.
        signature: [u8; 4],
        /// Physical address of the table.
        paddr: u64,
        /// The length field.
        len: u32,
    },
    /// A table ends in the middle of a structure at byte `offset`.
    Truncated {
        /// Signature of the table.
        signature: [u8; 4],
        /// Offset within the table.
        offset: usize,
    },
    /// A sub-table entry is shorter than its type requires (or has length < 2).
    BadEntry {
        /// Signature of the table.
        signature: [u8; 4],
        /// Offset of the entry within the table.
        offset: usize,
        /// Entry type.
        entry_type: u8,
        /// Entry length field.
        len: u8,
    },
    /// The root table lists no MADT.
    NoMadt,
}

struct Sig<'a>(&'a [u8; 4]);
impl fmt::Display for Sig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            let c = if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AcpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcpiError::Unreadable { paddr, len } => {
                write!(f, "ACPI: cannot read {len} bytes at {paddr:#x}")
            }
            AcpiError::BadRsdpSignature => write!(f, "ACPI: no RSDP signature"),
            AcpiError::BadSignature {
                paddr,
                expected,
                found,
            } => write!(
                f,
                "ACPI: table at {paddr:#x} is {} instead of {}",
                Sig(found),
                Sig(expected)
            ),
            AcpiError::BadChecksum { signature, paddr } => {
                write!(f, "ACPI: bad checksum in {} at {paddr:#x}", Sig(signature))
            }
            AcpiError::BadLength {
                signature,
                paddr,
                len,
            } => {
                write!(
                    f,
                    "ACPI: bad length {len} of {} at {paddr:#x}",
                    Sig(signature)
                )
            }
            AcpiError::Truncated { signature, offset } => {
                write!(f, "ACPI: {} truncated at offset {offset}", Sig(signature))
            }
            AcpiError::BadEntry {
                signature,
                offset,
                entry_type,
                len,
            } => write!(
                f,
                "ACPI: {} entry type {entry_type} at offset {offset} has bad length {len}",
                Sig(signature)
            ),
            AcpiError::NoMadt => write!(f, "ACPI: no MADT"),
        }
    }
}

/// A processor from the MADT (local APIC or x2APIC entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuEntry {
    /// ACPI processor UID.
    pub acpi_uid: u32,
    /// (x2)APIC ID.
    pub apic_id: u32,
    /// `true` if enabled; `false` if only online-capable (can be brought up
    /// later). Entries that are neither are not listed.
    pub enabled: bool,
}

/// An I/O APIC from the MADT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApic {
    /// I/O APIC ID.
    pub id: u8,
    /// Physical address of its registers.
    pub addr: u32,
    /// First global system interrupt it handles.
    pub gsi_base: u32,
}

/// An interrupt source override from the MADT (ISA IRQ to GSI remapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterruptOverride {
    /// Bus (0 = ISA).
    pub bus: u8,
    /// Bus-relative IRQ (e.g. 0 for the PIT).
    pub source: u8,
    /// Global system interrupt it is wired to.
    pub gsi: u32,
    /// MPS INTI flags (bits 0-1 polarity, bits 2-3 trigger mode).
    pub flags: u16,
}

/// A local APIC NMI entry from the MADT (type 4, or type 10 for x2APIC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalApicNmi {
    /// ACPI processor UID, or `u32::MAX` (0xff for type 4) for all processors.
    pub acpi_uid: u32,
    /// MPS INTI flags.
    pub flags: u16,
    /// Local APIC LINT pin (0 or 1).
    pub lint: u8,
}

/// Contents of the SRAT (System Resource Affinity Table).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Srat {
    /// `(apic_id, proximity_domain)` of every enabled processor entry
    /// (types 0 and 2), in table order.
    pub cpus: Vec<(u32, u32)>,
    /// `(start, end, proximity_domain)` of every enabled, non-empty memory
    /// affinity entry (type 1), in table order; `end` is exclusive.
    pub memory: Vec<(u64, u64, u32)>,
}

/// Everything [`parse`] extracts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcpiInfo {
    /// RSDP revision (0 = ACPI 1.0 with RSDT only, 2+ = XSDT available).
    pub rsdp_revision: u8,
    /// OEM ID from the RSDP.
    pub oem_id: [u8; 6],
    /// Physical address of the local APIC registers (MADT, or its type 5
    /// override).
    pub local_apic_addr: u64,
    /// MADT flag PCAT_COMPAT: legacy 8259 PICs are present (mask them).
    pub pcat_compat: bool,
    /// Processors, in MADT order, each APIC ID once.
    pub cpus: Vec<CpuEntry>,
    /// I/O APICs, in MADT order.
    pub io_apics: Vec<IoApic>,
    /// Interrupt source overrides, in MADT order.
    pub interrupt_overrides: Vec<InterruptOverride>,
    /// Local APIC NMI entries, in MADT order.
    pub local_apic_nmis: Vec<LocalApicNmi>,
    /// The SRAT, if present.
    pub srat: Option<Srat>,
    /// The SLIT distance matrix (`slit[i][j]` = distance from proximity
    /// domain `i` to `j`), if present.
    pub slit: Option<Vec<Vec<u8>>>,
    /// `(signature, paddr)` of every table the root table lists, in order.
    pub tables: Vec<([u8; 4], u64)>,
}

fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)) == 0
}

fn bytes<const N: usize>(t: &[u8], off: usize) -> Option<[u8; N]> {
    t.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// Little-endian field readers over a table's bytes that report truncation.
struct Table<'a> {
    sig: [u8; 4],
    b: &'a [u8],
}

impl Table<'_> {
    fn trunc(&self, offset: usize) -> AcpiError {
        AcpiError::Truncated {
            signature: self.sig,
            offset,
        }
    }
    fn u8(&self, off: usize) -> Result<u8, AcpiError> {
        self.b.get(off).copied().ok_or_else(|| self.trunc(off))
    }
    fn u16(&self, off: usize) -> Result<u16, AcpiError> {
        bytes(self.b, off)
            .map(u16::from_le_bytes)
            .ok_or_else(|| self.trunc(off))
    }
    fn u32(&self, off: usize) -> Result<u32, AcpiError> {
        bytes(self.b, off)
            .map(u32::from_le_bytes)
            .ok_or_else(|| self.trunc(off))
    }
    fn u64(&self, off: usize) -> Result<u64, AcpiError> {
        bytes(self.b, off)
            .map(u64::from_le_bytes)
            .ok_or_else(|| self.trunc(off))
    }

    /// Iterates the variable-length `{u8 type, u8 len, ...}` entries from
    /// `start`, checking each entry against `min_len(type)`.
    fn entries(
        &self,
        start: usize,
        min_len: impl Fn(u8) -> usize,
        mut f: impl FnMut(u8, usize) -> Result<(), AcpiError>,
    ) -> Result<(), AcpiError> {
        let mut off = start;
        while off < self.b.len() {
            let ty = self.u8(off)?;
            let len = self.u8(off + 1)?;
            let bad = AcpiError::BadEntry {
                signature: self.sig,
                offset: off,
                entry_type: ty,
                len,
            };
            if (len as usize) < 2.max(min_len(ty)) {
                return Err(bad);
            }
            if off + len as usize > self.b.len() {
                return Err(self.trunc(off));
            }
            f(ty, off)?;
            off += len as usize;
        }
        Ok(())
    }
}

fn read_exact(mem: &impl PhysRead, paddr: u64, buf: &mut [u8]) -> Result<(), AcpiError> {
    if mem.read(paddr, buf) {
        Ok(())
    } else {
        Err(AcpiError::Unreadable {
            paddr,
            len: buf.len() as u64,
        })
    }
}

fn read_header(mem: &impl PhysRead, paddr: u64) -> Result<([u8; 4], u32), AcpiError> {
    let mut h = [0u8; 8];
    read_exact(mem, paddr, &mut h)?;
    let [s0, s1, s2, s3, l0, l1, l2, l3] = h;
    Ok(([s0, s1, s2, s3], u32::from_le_bytes([l0, l1, l2, l3])))
}

/// Reads a whole table at `paddr`, checking length, signature (if given)
/// and checksum.
pub fn read_table(
    mem: &impl PhysRead,
    paddr: u64,
    expected: Option<[u8; 4]>,
) -> Result<Vec<u8>, AcpiError> {
    let (sig, len) = read_header(mem, paddr)?;
    if let Some(exp) = expected {
        if exp != sig {
            return Err(AcpiError::BadSignature {
                paddr,
                expected: exp,
                found: sig,
            });
        }
    }
    if (len as usize) < SDT_HEADER_LEN || len > MAX_TABLE_LEN {
        return Err(AcpiError::BadLength {
            signature: sig,
            paddr,
            len,
        });
    }
    let mut t = vec![0u8; len as usize];
    read_exact(mem, paddr, &mut t)?;
    if !checksum_ok(&t) {
        return Err(AcpiError::BadChecksum {
            signature: sig,
            paddr,
        });
    }
    Ok(t)
}

/// What the RSDP says: revision, OEM ID, and the root table to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rsdp {
    /// RSDP revision.
    pub revision: u8,
    /// OEM ID.
    pub oem_id: [u8; 6],
    /// RSDT physical address (32-bit).
    pub rsdt_paddr: u32,
    /// XSDT physical address (0 if absent or revision < 2).
    pub xsdt_paddr: u64,
}

/// Reads and validates the RSDP at `paddr` (both checksums for revision 2+).
pub fn parse_rsdp(mem: &impl PhysRead, paddr: u64) -> Result<Rsdp, AcpiError> {
    let mut v1 = [0u8; 20];
    read_exact(mem, paddr, &mut v1)?;
    if &v1[..8] != b"RSD PTR " {
        return Err(AcpiError::BadRsdpSignature);
    }
    let bad_sum = AcpiError::BadChecksum {
        signature: *b"RSDP",
        paddr,
    };
    if !checksum_ok(&v1) {
        return Err(bad_sum);
    }
    let t = Table {
        sig: *b"RSDP",
        b: &v1,
    };
    let oem_id = bytes::<6>(&v1, 9).ok_or_else(|| t.trunc(9))?;
    let revision = t.u8(15)?;
    let rsdt_paddr = t.u32(16)?;
    let mut xsdt_paddr = 0;
    if revision >= 2 {
        let len = read_u32_at(mem, paddr, 20)?;
        if !(36..=MAX_RSDP_LEN).contains(&len) {
            return Err(AcpiError::BadLength {
                signature: *b"RSDP",
                paddr,
                len,
            });
        }
        let mut v2 = vec![0u8; len as usize];
        read_exact(mem, paddr, &mut v2)?;
        if !checksum_ok(&v2) {
            return Err(bad_sum);
        }
        xsdt_paddr = Table {
            sig: *b"RSDP",
            b: &v2,
        }
        .u64(24)?;
    }
    Ok(Rsdp {
        revision,
        oem_id,
        rsdt_paddr,
        xsdt_paddr,
    })
}

fn read_u32_at(mem: &impl PhysRead, base: u64, off: u64) -> Result<u32, AcpiError> {
    let a = base.checked_add(off).ok_or(AcpiError::Unreadable {
        paddr: base,
        len: off + 4,
    })?;
    let mut b = [0u8; 4];
    read_exact(mem, a, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Parses the ACPI tables reachable from the RSDP at `rsdp_paddr`.
///
/// Requires a MADT ([`AcpiError::NoMadt`] otherwise); SRAT and SLIT are
/// optional. Root-table entries that are 0 are skipped; if a signature
/// appears more than once, the first table is used.
pub fn parse(mem: &impl PhysRead, rsdp_paddr: u64) -> Result<AcpiInfo, AcpiError> {
    let rsdp = parse_rsdp(mem, rsdp_paddr)?;
    let (root_paddr, root_sig, entry_size) = if rsdp.revision >= 2 && rsdp.xsdt_paddr != 0 {
        (rsdp.xsdt_paddr, *b"XSDT", 8)
    } else {
        (rsdp.rsdt_paddr as u64, *b"RSDT", 4)
    };
    let root = read_table(mem, root_paddr, Some(root_sig))?;
    let root_t = Table {
        sig: root_sig,
        b: &root,
    };

    let mut tables = Vec::new();
    let mut off = SDT_HEADER_LEN;
    while off + entry_size <= root.len() {
        let p = if entry_size == 8 {
            root_t.u64(off)?
        } else {
            root_t.u32(off)? as u64
        };
        off += entry_size;
        if p == 0 {
            continue;
        }
        let (sig, _) = read_header(mem, p)?;
        tables.push((sig, p));
    }

    let find = |s: &[u8; 4]| tables.iter().find(|(sig, _)| sig == s).map(|&(_, p)| p);

    let madt_paddr = find(b"APIC").ok_or(AcpiError::NoMadt)?;
    let madt = read_table(mem, madt_paddr, Some(*b"APIC"))?;
    let mut info = AcpiInfo {
        rsdp_revision: rsdp.revision,
        oem_id: rsdp.oem_id,
        local_apic_addr: 0,
        pcat_compat: false,
        cpus: Vec::new(),
        io_apics: Vec::new(),
        interrupt_overrides: Vec::new(),
        local_apic_nmis: Vec::new(),
        srat: None,
        slit: None,
        tables: Vec::new(),
    };
    parse_madt(&madt, &mut info)?;

    if let Some(p) = find(b"SRAT") {
        info.srat = Some(parse_srat(&read_table(mem, p, Some(*b"SRAT"))?)?);
    }
    if let Some(p) = find(b"SLIT") {
        info.slit = Some(parse_slit(&read_table(mem, p, Some(*b"SLIT"))?)?);
    }
    info.tables = tables;
    Ok(info)
}

/// Parses a MADT (whole table, header included) into `info`'s MADT fields.
pub fn parse_madt(madt: &[u8], info: &mut AcpiInfo) -> Result<(), AcpiError> {
    let t = Table {
        sig: *b"APIC",
        b: madt,
    };
    info.local_apic_addr = t.u32(36)? as u64;
    info.pcat_compat = t.u32(40)? & 1 != 0;
    let min_len = |ty: u8| match ty {
        0 => 8,
        1 => 12,
        2 => 10,
        4 => 6,
        5 => 12,
        9 => 16,
        10 => 12,
        _ => 2,
    };
    let add_cpu = |cpus: &mut Vec<CpuEntry>, uid: u32, apic_id: u32, flags: u32| {
        let enabled = flags & 1 != 0;
        let online_capable = flags & 2 != 0;
        if (enabled || online_capable) && !cpus.iter().any(|c| c.apic_id == apic_id) {
            cpus.push(CpuEntry {
                acpi_uid: uid,
                apic_id,
                enabled,
            });
        }
    };
    t.entries(44, min_len, |ty, o| {
        match ty {
            0 => {
                let apic_id = t.u8(o + 3)?;
                // 0xff marks an unusable entry on some firmware.
                if apic_id != 0xff {
                    add_cpu(
                        &mut info.cpus,
                        t.u8(o + 2)? as u32,
                        apic_id as u32,
                        t.u32(o + 4)?,
                    );
                }
            }
            1 => info.io_apics.push(IoApic {
                id: t.u8(o + 2)?,
                addr: t.u32(o + 4)?,
                gsi_base: t.u32(o + 8)?,
            }),
            2 => info.interrupt_overrides.push(InterruptOverride {
                bus: t.u8(o + 2)?,
                source: t.u8(o + 3)?,
                gsi: t.u32(o + 4)?,
                flags: t.u16(o + 8)?,
            }),
            4 => {
                let uid = t.u8(o + 2)?;
                info.local_apic_nmis.push(LocalApicNmi {
                    acpi_uid: if uid == 0xff { u32::MAX } else { uid as u32 },
                    flags: t.u16(o + 3)?,
                    lint: t.u8(o + 5)?,
                });
            }
            5 => info.local_apic_addr = t.u64(o + 4)?,
            9 => {
                let apic_id = t.u32(o + 4)?;
                if apic_id != u32::MAX {
                    add_cpu(&mut info.cpus, t.u32(o + 12)?, apic_id, t.u32(o + 8)?);
                }
            }
            10 => info.local_apic_nmis.push(LocalApicNmi {
                acpi_uid: t.u32(o + 4)?,
                flags: t.u16(o + 2)?,
                lint: t.u8(o + 8)?,
            }),
            _ => {}
        }
        Ok(())
    })
}

/// Parses an SRAT (whole table, header included).
///
/// Type 0 proximity domains combine the low byte (offset 2) with the high
/// three bytes (offsets 9..12).
pub fn parse_srat(srat: &[u8]) -> Result<Srat, AcpiError> {
    let t = Table {
        sig: *b"SRAT",
        b: srat,
    };
    if srat.len() < 48 {
        return Err(t.trunc(srat.len()));
    }
    let mut out = Srat::default();
    let min_len = |ty: u8| match ty {
        0 => 16,
        1 => 40,
        2 => 24,
        _ => 2,
    };
    t.entries(48, min_len, |ty, o| {
        match ty {
            0 if t.u32(o + 4)? & 1 != 0 => {
                let lo = t.u8(o + 2)? as u32;
                let hi = [t.u8(o + 9)?, t.u8(o + 10)?, t.u8(o + 11)?];
                let domain = lo | u32::from_le_bytes([0, hi[0], hi[1], hi[2]]);
                out.cpus.push((t.u8(o + 3)? as u32, domain));
            }
            1 => {
                let domain = t.u32(o + 2)?;
                let base = t.u64(o + 8)?;
                let len = t.u64(o + 16)?;
                if t.u32(o + 28)? & 1 != 0 && len > 0 {
                    out.memory.push((base, base.saturating_add(len), domain));
                }
            }
            2 if t.u32(o + 12)? & 1 != 0 => out.cpus.push((t.u32(o + 8)?, t.u32(o + 4)?)),
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// Parses a SLIT (whole table, header included) into a distance matrix.
pub fn parse_slit(slit: &[u8]) -> Result<Vec<Vec<u8>>, AcpiError> {
    let t = Table {
        sig: *b"SLIT",
        b: slit,
    };
    let n = t.u64(36)?;
    let avail = (slit.len() - 44.min(slit.len())) as u64;
    match n.checked_mul(n) {
        Some(nn) if nn <= avail => {}
        _ => return Err(t.trunc(slit.len())),
    }
    let n = n as usize;
    Ok((0..n)
        .map(|i| slit[44 + i * n..44 + (i + 1) * n].to_vec())
        .collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pvh::SliceReader;
    use alloc::vec;

    /// Memory made of a few disjoint buffers.
    pub(crate) struct Sparse(pub Vec<(u64, Vec<u8>)>);
    impl PhysRead for Sparse {
        fn read(&self, paddr: u64, buf: &mut [u8]) -> bool {
            self.0
                .iter()
                .any(|(b, d)| SliceReader { base: *b, data: d }.read(paddr, buf))
        }
    }

    fn fix_sum(t: &mut [u8], at: usize) {
        t[at] = 0;
        let s = t.iter().fold(0u8, |a, &b| a.wrapping_add(b));
        t[at] = 0u8.wrapping_sub(s);
    }

    pub(crate) fn table(sig: &[u8; 4], rev: u8, body: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(sig);
        t.extend_from_slice(&((36 + body.len()) as u32).to_le_bytes());
        t.push(rev);
        t.push(0);
        t.extend_from_slice(b"BOCHS ");
        t.extend_from_slice(b"BXPC    ");
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(b"BXPC");
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(body);
        fix_sum(&mut t, 9);
        t
    }

    pub(crate) fn rsdp(rev: u8, rsdt: u32, xsdt: u64) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(b"RSD PTR ");
        r.push(0);
        r.extend_from_slice(b"BOCHS ");
        r.push(rev);
        r.extend_from_slice(&rsdt.to_le_bytes());
        fix_sum(&mut r, 8);
        if rev >= 2 {
            r.extend_from_slice(&36u32.to_le_bytes());
            r.extend_from_slice(&xsdt.to_le_bytes());
            r.extend_from_slice(&[0, 0, 0, 0]);
            fix_sum(&mut r, 32);
        }
        r
    }

    pub(crate) fn lapic(uid: u8, id: u8, flags: u32) -> Vec<u8> {
        let mut e = vec![0, 8, uid, id];
        e.extend_from_slice(&flags.to_le_bytes());
        e
    }
    pub(crate) fn x2apic(uid: u32, id: u32, flags: u32) -> Vec<u8> {
        let mut e = vec![9, 16, 0, 0];
        e.extend_from_slice(&id.to_le_bytes());
        e.extend_from_slice(&flags.to_le_bytes());
        e.extend_from_slice(&uid.to_le_bytes());
        e
    }
    fn ioapic(id: u8, addr: u32, gsi: u32) -> Vec<u8> {
        let mut e = vec![1, 12, id, 0];
        e.extend_from_slice(&addr.to_le_bytes());
        e.extend_from_slice(&gsi.to_le_bytes());
        e
    }
    fn iso(src: u8, gsi: u32, flags: u16) -> Vec<u8> {
        let mut e = vec![2, 10, 0, src];
        e.extend_from_slice(&gsi.to_le_bytes());
        e.extend_from_slice(&flags.to_le_bytes());
        e
    }
    pub(crate) fn madt(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        for e in entries {
            b.extend_from_slice(e);
        }
        table(b"APIC", 1, &b)
    }
    pub(crate) fn srat_cpu(apic: u8, dom: u32, flags: u32) -> Vec<u8> {
        let d = dom.to_le_bytes();
        let mut e = vec![0, 16, d[0], apic];
        e.extend_from_slice(&flags.to_le_bytes());
        e.extend_from_slice(&[0, d[1], d[2], d[3], 0, 0, 0, 0]);
        e
    }
    pub(crate) fn srat_x2(apic: u32, dom: u32, flags: u32) -> Vec<u8> {
        let mut e = vec![2, 24, 0, 0];
        e.extend_from_slice(&dom.to_le_bytes());
        e.extend_from_slice(&apic.to_le_bytes());
        e.extend_from_slice(&flags.to_le_bytes());
        e.extend_from_slice(&[0; 8]);
        e
    }
    pub(crate) fn srat_mem(base: u64, len: u64, dom: u32, flags: u32) -> Vec<u8> {
        let mut e = vec![1, 40];
        e.extend_from_slice(&dom.to_le_bytes());
        e.extend_from_slice(&[0, 0]);
        e.extend_from_slice(&base.to_le_bytes());
        e.extend_from_slice(&len.to_le_bytes());
        e.extend_from_slice(&[0; 4]);
        e.extend_from_slice(&flags.to_le_bytes());
        e.extend_from_slice(&[0; 8]);
        e
    }
    pub(crate) fn srat(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for e in entries {
            b.extend_from_slice(e);
        }
        table(b"SRAT", 3, &b)
    }
    pub(crate) fn slit(m: &[&[u8]]) -> Vec<u8> {
        let mut b = (m.len() as u64).to_le_bytes().to_vec();
        for r in m {
            b.extend_from_slice(r);
        }
        table(b"SLIT", 1, &b)
    }
    fn xsdt(ptrs: &[u64]) -> Vec<u8> {
        let b: Vec<u8> = ptrs.iter().flat_map(|p| p.to_le_bytes()).collect();
        table(b"XSDT", 1, &b)
    }
    fn rsdt(ptrs: &[u32]) -> Vec<u8> {
        let b: Vec<u8> = ptrs.iter().flat_map(|p| p.to_le_bytes()).collect();
        table(b"RSDT", 1, &b)
    }

    const RSDP: u64 = 0xf5a40;

    fn qemu_numa_madt() -> Vec<u8> {
        madt(&[
            lapic(0, 0, 1),
            lapic(1, 1, 1),
            lapic(2, 2, 1),
            lapic(3, 3, 1),
            ioapic(0, 0xfec0_0000, 0),
            iso(0, 2, 0),
            iso(9, 9, 0xd),
            vec![4, 6, 0xff, 0, 0, 1],
        ])
    }
    fn qemu_numa_srat() -> Vec<u8> {
        srat(&[
            srat_cpu(0, 0, 1),
            srat_cpu(1, 0, 1),
            srat_cpu(2, 1, 1),
            srat_cpu(3, 1, 1),
            srat_mem(0, 0xa0000, 0, 1),
            srat_mem(0x100000, 0x0ff0_0000, 0, 1),
            srat_mem(0x1000_0000, 0x1000_0000, 1, 1),
            srat_mem(0x2000_0000, 0x1000_0000, 1, 0), // disabled
        ])
    }

    /// A machine image with the given tables at fixed addresses.
    pub(crate) fn machine(
        rsdp_bytes: Vec<u8>,
        root: Vec<u8>,
        tables: Vec<(u64, Vec<u8>)>,
    ) -> Sparse {
        let mut v = vec![(RSDP, rsdp_bytes), (0x7fe_0000, root)];
        v.extend(tables);
        Sparse(v)
    }

    fn numa_machine_xsdt() -> Sparse {
        machine(
            rsdp(2, 0, 0x7fe_0000),
            xsdt(&[0x7fe_1000, 0x7fe_2000, 0x7fe_3000, 0x7fe_4000]),
            vec![
                (0x7fe_1000, table(b"FACP", 1, &[0; 80])),
                (0x7fe_2000, qemu_numa_madt()),
                (0x7fe_3000, qemu_numa_srat()),
                (0x7fe_4000, slit(&[&[10, 20], &[20, 10]])),
            ],
        )
    }

    #[test]
    fn qemu_numa_via_xsdt() {
        let info = parse(&numa_machine_xsdt(), RSDP).unwrap();
        assert_eq!(info.rsdp_revision, 2);
        assert_eq!(&info.oem_id, b"BOCHS ");
        assert_eq!(info.local_apic_addr, 0xfee0_0000);
        assert!(info.pcat_compat);
        assert_eq!(info.cpus.len(), 4);
        assert_eq!(
            info.cpus[2],
            CpuEntry {
                acpi_uid: 2,
                apic_id: 2,
                enabled: true
            }
        );
        assert_eq!(
            info.io_apics,
            vec![IoApic {
                id: 0,
                addr: 0xfec0_0000,
                gsi_base: 0
            }]
        );
        assert_eq!(info.interrupt_overrides.len(), 2);
        assert_eq!(
            info.interrupt_overrides[0],
            InterruptOverride {
                bus: 0,
                source: 0,
                gsi: 2,
                flags: 0
            }
        );
        assert_eq!(
            info.local_apic_nmis,
            vec![LocalApicNmi {
                acpi_uid: u32::MAX,
                flags: 0,
                lint: 1
            }]
        );
        let srat = info.srat.unwrap();
        assert_eq!(srat.cpus, vec![(0, 0), (1, 0), (2, 1), (3, 1)]);
        assert_eq!(
            srat.memory,
            vec![
                (0, 0xa0000, 0),
                (0x100000, 0x1000_0000, 0),
                (0x1000_0000, 0x2000_0000, 1)
            ]
        );
        assert_eq!(info.slit, Some(vec![vec![10, 20], vec![20, 10]]));
        let sigs: Vec<&[u8; 4]> = info.tables.iter().map(|(s, _)| s).collect();
        assert_eq!(sigs, vec![b"FACP", b"APIC", b"SRAT", b"SLIT"]);
    }

    #[test]
    fn rsdt_v1_without_numa() {
        let m = machine(
            rsdp(0, 0x7fe_0000, 0),
            rsdt(&[0, 0x7fe_2000]),
            vec![(
                0x7fe_2000,
                madt(&[
                    lapic(0, 0, 1),
                    lapic(1, 1, 0),
                    lapic(2, 5, 2),
                    lapic(3, 0xff, 1),
                ]),
            )],
        );
        let info = parse(&m, RSDP).unwrap();
        assert_eq!(info.rsdp_revision, 0);
        assert_eq!(
            info.cpus,
            vec![
                CpuEntry {
                    acpi_uid: 0,
                    apic_id: 0,
                    enabled: true
                },
                CpuEntry {
                    acpi_uid: 2,
                    apic_id: 5,
                    enabled: false
                },
            ]
        );
        assert!(info.srat.is_none() && info.slit.is_none());
    }

    #[test]
    fn x2apic_entries_and_overrides() {
        let mut lapic_override = vec![5, 12, 0, 0];
        lapic_override.extend_from_slice(&0x1_fee0_0000u64.to_le_bytes());
        let m = madt(&[
            lapic(0, 0, 1),
            x2apic(7, 300, 1),
            x2apic(8, 0, 1), // duplicate APIC ID: first wins
            x2apic(9, u32::MAX, 1),
            vec![0x7f, 3, 0], // unknown type, skipped
            lapic_override,
        ]);
        let mut info = parse(
            &machine(
                rsdp(2, 0, 0x7fe_0000),
                xsdt(&[0x7fe_2000]),
                vec![(0x7fe_2000, m.clone())],
            ),
            RSDP,
        )
        .unwrap();
        assert_eq!(info.local_apic_addr, 0x1_fee0_0000);
        assert_eq!(
            info.cpus
                .iter()
                .map(|c| (c.acpi_uid, c.apic_id))
                .collect::<Vec<_>>(),
            vec![(0, 0), (7, 300)]
        );
        info.cpus.clear();
        parse_madt(&m, &mut info).unwrap();
        assert_eq!(info.cpus.len(), 2);
    }

    #[test]
    fn srat_domains_and_x2apic_affinity() {
        let s = parse_srat(&srat(&[
            srat_cpu(1, 0x0102_0304, 1),
            srat_cpu(2, 5, 0),
            srat_x2(400, 9, 1),
            srat_x2(401, 9, 0),
            srat_mem(0x1000, 0, 3, 1),
            srat_mem(u64::MAX - 10, 100, 3, 3),
            vec![3, 2], // unknown type
        ]))
        .unwrap();
        assert_eq!(s.cpus, vec![(1, 0x0102_0304), (400, 9)]);
        assert_eq!(s.memory, vec![(u64::MAX - 10, u64::MAX, 3)]);
    }

    #[test]
    fn bad_checksums() {
        // RSDP v1 checksum.
        let mut r = rsdp(0, 0x7fe_0000, 0);
        r[8] ^= 1;
        let m = machine(r, rsdt(&[]), vec![]);
        assert_eq!(
            parse(&m, RSDP),
            Err(AcpiError::BadChecksum {
                signature: *b"RSDP",
                paddr: RSDP
            })
        );
        // RSDP v2 extended checksum.
        let mut r = rsdp(2, 0, 0x7fe_0000);
        r[32] ^= 1;
        let m = machine(r, xsdt(&[]), vec![]);
        assert_eq!(
            parse(&m, RSDP),
            Err(AcpiError::BadChecksum {
                signature: *b"RSDP",
                paddr: RSDP
            })
        );
        // Root table.
        let mut x = xsdt(&[0x7fe_2000]);
        x[9] ^= 1;
        let m = machine(
            rsdp(2, 0, 0x7fe_0000),
            x,
            vec![(0x7fe_2000, qemu_numa_madt())],
        );
        assert!(
            matches!(parse(&m, RSDP), Err(AcpiError::BadChecksum { signature: s, .. }) if &s == b"XSDT")
        );
        // MADT.
        let mut md = qemu_numa_madt();
        md[40] ^= 4;
        let m = machine(
            rsdp(2, 0, 0x7fe_0000),
            xsdt(&[0x7fe_2000]),
            vec![(0x7fe_2000, md)],
        );
        assert_eq!(
            parse(&m, RSDP),
            Err(AcpiError::BadChecksum {
                signature: *b"APIC",
                paddr: 0x7fe_2000
            })
        );
        // SLIT.
        let mut sl = slit(&[&[10]]);
        sl[44] = 11;
        let m = machine(
            rsdp(2, 0, 0x7fe_0000),
            xsdt(&[0x7fe_2000, 0x7fe_4000]),
            vec![(0x7fe_2000, qemu_numa_madt()), (0x7fe_4000, sl)],
        );
        assert!(
            matches!(parse(&m, RSDP), Err(AcpiError::BadChecksum { signature: s, .. }) if &s == b"SLIT")
        );
    }

    #[test]
    fn truncated_and_malformed() {
        let with_madt = |md: Vec<u8>| {
            machine(
                rsdp(2, 0, 0x7fe_0000),
                xsdt(&[0x7fe_2000]),
                vec![(0x7fe_2000, md)],
            )
        };
        // Entry running past the end of the table.
        let mut e = lapic(0, 0, 1);
        e[1] = 20;
        assert!(matches!(
            parse(&with_madt(madt(&[e])), RSDP),
            Err(AcpiError::Truncated { .. })
        ));
        // Entry of length 0 (would loop forever).
        assert!(matches!(
            parse(&with_madt(madt(&[vec![0, 0, 0, 0]])), RSDP),
            Err(AcpiError::BadEntry { len: 0, .. })
        ));
        // Entry too short for its type.
        assert!(matches!(
            parse(&with_madt(madt(&[vec![9, 8, 0, 0, 0, 0, 0, 0]])), RSDP),
            Err(AcpiError::BadEntry { entry_type: 9, .. })
        ));
        // Lone trailing byte.
        assert!(matches!(
            parse(&with_madt(madt(&[vec![0]])), RSDP),
            Err(AcpiError::Truncated { .. })
        ));
        // MADT shorter than its fixed part.
        assert!(matches!(
            parse(&with_madt(table(b"APIC", 1, &[0; 4])), RSDP),
            Err(AcpiError::Truncated { .. })
        ));
        // Length field smaller than the header.
        let mut md = qemu_numa_madt();
        md[4..8].copy_from_slice(&10u32.to_le_bytes());
        assert!(matches!(
            parse(&with_madt(md), RSDP),
            Err(AcpiError::BadLength { len: 10, .. })
        ));
        // Length field larger than the memory holding the table.
        let mut md = qemu_numa_madt();
        let l = md.len() as u32 + 100;
        md[4..8].copy_from_slice(&l.to_le_bytes());
        assert!(matches!(
            parse(&with_madt(md), RSDP),
            Err(AcpiError::Unreadable { .. })
        ));
        // Absurd length.
        let mut md = qemu_numa_madt();
        md[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            parse(&with_madt(md), RSDP),
            Err(AcpiError::BadLength { .. })
        ));
        // SLIT claiming more localities than it holds.
        let mut sl = slit(&[&[10, 20], &[20, 10]]);
        sl[36..44].copy_from_slice(&u64::MAX.to_le_bytes());
        fix_sum(&mut sl, 9);
        assert!(matches!(parse_slit(&sl), Err(AcpiError::Truncated { .. })));
        assert!(matches!(
            parse_slit(&sl[..40]),
            Err(AcpiError::Truncated { .. })
        ));
        // SRAT without its reserved fields.
        assert!(matches!(
            parse_srat(&table(b"SRAT", 3, &[1, 0])),
            Err(AcpiError::Truncated { .. })
        ));
        // SRAT memory entry too short.
        assert!(matches!(
            parse_srat(&srat(&[vec![
                1, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]])),
            Err(AcpiError::BadEntry { entry_type: 1, .. })
        ));
    }

    #[test]
    fn missing_pieces() {
        let m = Sparse(vec![(RSDP, b"RSD PTX ".repeat(3))]);
        assert_eq!(parse(&m, RSDP), Err(AcpiError::BadRsdpSignature));
        assert!(matches!(parse(&m, 0), Err(AcpiError::Unreadable { .. })));
        // No MADT.
        let m = machine(
            rsdp(2, 0, 0x7fe_0000),
            xsdt(&[0x7fe_1000]),
            vec![(0x7fe_1000, table(b"FACP", 1, &[]))],
        );
        assert_eq!(parse(&m, RSDP), Err(AcpiError::NoMadt));
        // Root table entry pointing nowhere.
        let m = machine(rsdp(2, 0, 0x7fe_0000), xsdt(&[0xdead_0000]), vec![]);
        assert!(matches!(
            parse(&m, RSDP),
            Err(AcpiError::Unreadable {
                paddr: 0xdead_0000,
                ..
            })
        ));
        // Root table of the wrong kind.
        let m = machine(rsdp(2, 0, 0x7fe_0000), rsdt(&[]), vec![]);
        assert!(matches!(
            parse(&m, RSDP),
            Err(AcpiError::BadSignature { .. })
        ));
        // Revision 2 with XSDT 0 falls back to the RSDT.
        let m = machine(
            rsdp(2, 0x7fe_0000, 0),
            rsdt(&[0x7fe_2000]),
            vec![(0x7fe_2000, qemu_numa_madt())],
        );
        assert_eq!(parse(&m, RSDP).unwrap().cpus.len(), 4);
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            /// Random byte flips in a valid machine image never panic, and
            /// any success still yields sane data.
            #[test]
            fn mutated_tables_do_not_panic(
                flips in proptest::collection::vec((0usize..6, any::<prop::sample::Index>(), any::<u8>()), 1..6),
                fix in any::<bool>(),
            ) {
                let mut m = numa_machine_xsdt();
                let blobs = m.0.len();
                for (blob, idx, val) in flips {
                    let b = &mut m.0[blob % blobs].1;
                    let i = idx.index(b.len());
                    b[i] ^= val;
                }
                if fix {
                    // Repair checksums so the parsers look past them.
                    for (i, (_, b)) in m.0.iter_mut().enumerate() {
                        if i == 0 {
                            fix_sum(&mut b[..20], 8);
                            fix_sum(b, 32);
                        } else {
                            fix_sum(b, 9);
                        }
                    }
                }
                if let Ok(info) = parse(&m, RSDP) {
                    if let Some(s) = info.slit {
                        prop_assert!(s.iter().all(|r| r.len() == s.len()));
                    }
                }
            }

            /// Arbitrary bytes as MADT / SRAT / SLIT bodies never panic.
            #[test]
            fn random_bodies_do_not_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
                let mut info = parse(&numa_machine_xsdt(), RSDP).unwrap();
                let _ = parse_madt(&table(b"APIC", 1, &body), &mut info);
                let _ = parse_srat(&table(b"SRAT", 3, &body));
                let _ = parse_slit(&table(b"SLIT", 1, &body));
                let _ = parse_madt(&body, &mut info);
                let _ = parse_srat(&body);
                let _ = parse_slit(&body);
            }

            /// Random memory at the RSDP address never panics.
            #[test]
            fn random_rsdp_does_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), rev in 0u8..4) {
                let mut b = rsdp(rev, 0x7fe_0000, 0x7fe_0000);
                let n = bytes.len().min(b.len());
                b[..n].copy_from_slice(&bytes[..n]);
                let m = Sparse(vec![(RSDP, b)]);
                let _ = parse(&m, RSDP);
            }
        }
    }

    #[test]
    fn error_display() {
        use alloc::string::ToString;
        let e = AcpiError::BadChecksum {
            signature: *b"AP\x01C",
            paddr: 0x10,
        };
        assert_eq!(e.to_string(), "ACPI: bad checksum in AP?C at 0x10");
    }
}

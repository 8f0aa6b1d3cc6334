//! The PVH boot protocol's `hvm_start_info` structure.
//!
//! QEMU (and Xen) enter a PVH kernel with `EBX` holding the physical address
//! of a `hvm_start_info`. [`parse_start_info`] reads it, with the module list,
//! command lines and memory map it points to, through a [`PhysRead`].
//!
//! Layout (little-endian): u32 magic `0x336ec578` at +0, u32 version +4,
//! u32 flags +8, u32 nr_modules +12, u64 modlist_paddr +16, u64 cmdline_paddr
//! +24, u64 rsdp_paddr +32; from version 1 on also u64 memmap_paddr +40,
//! u32 memmap_entries +48, u32 reserved +52. Module entries are 32 bytes
//! `{u64 paddr, u64 size, u64 cmdline_paddr, u64 reserved}`; memory-map
//! entries are 24 bytes `{u64 addr, u64 size, u32 type, u32 reserved}`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::memmap::MemoryRegion;

/// Read access to physical memory.
///
/// The kernel implements this over its mapping of physical memory; tests
/// implement it over byte buffers.
pub trait PhysRead {
    /// Fills `buf` with the bytes at physical address `paddr..paddr+buf.len()`.
    ///
    /// Returns `false` (and may leave `buf` partly written) if any part of
    /// the range cannot be read.
    fn read(&self, paddr: u64, buf: &mut [u8]) -> bool;
}

impl<T: PhysRead + ?Sized> PhysRead for &T {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> bool {
        (**self).read(paddr, buf)
    }
}

/// A [`PhysRead`] over one contiguous byte buffer placed at `base`.
#[derive(Clone, Copy, Debug)]
pub struct SliceReader<'a> {
    /// Physical address of `data[0]`.
    pub base: u64,
    /// The bytes.
    pub data: &'a [u8],
}

impl PhysRead for SliceReader<'_> {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> bool {
        let Some(off) = paddr.checked_sub(self.base) else {
            return false;
        };
        let Ok(off) = usize::try_from(off) else {
            return false;
        };
        match off
            .checked_add(buf.len())
            .and_then(|end| self.data.get(off..end))
        {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
}

/// Reads a little-endian `u16` at `paddr`.
pub fn read_u16(mem: &(impl PhysRead + ?Sized), paddr: u64) -> Option<u16> {
    let mut b = [0u8; 2];
    mem.read(paddr, &mut b).then(|| u16::from_le_bytes(b))
}

/// Reads a little-endian `u32` at `paddr`.
pub fn read_u32(mem: &(impl PhysRead + ?Sized), paddr: u64) -> Option<u32> {
    let mut b = [0u8; 4];
    mem.read(paddr, &mut b).then(|| u32::from_le_bytes(b))
}

/// Reads a little-endian `u64` at `paddr`.
pub fn read_u64(mem: &(impl PhysRead + ?Sized), paddr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    mem.read(paddr, &mut b).then(|| u64::from_le_bytes(b))
}

/// The `hvm_start_info` magic value.
pub const START_INFO_MAGIC: u32 = 0x336e_c578;
/// Size of a version-0 `hvm_start_info` (no memory-map fields).
pub const START_INFO_SIZE_V0: u64 = 40;
/// Size of a version-1 `hvm_start_info`.
pub const START_INFO_SIZE_V1: u64 = 56;
/// Size of one module-list entry.
pub const MODULE_ENTRY_SIZE: u64 = 32;
/// Size of one memory-map entry.
pub const MEMMAP_ENTRY_SIZE: u64 = 24;
/// Most modules accepted; more is treated as corruption.
pub const MAX_MODULES: u32 = 64;
/// Most memory-map entries accepted; more is treated as corruption.
pub const MAX_MEMMAP_ENTRIES: u32 = 1024;
/// Longest accepted command-line string, in bytes, not counting the NUL.
pub const MAX_STRING_LEN: usize = 4096;

/// Error from [`parse_start_info`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PvhError {
    /// The structure does not start with [`START_INFO_MAGIC`].
    BadMagic(u32),
    /// `len` bytes at `paddr` could not be read.
    Unreadable {
        /// Physical address of the failed read.
        paddr: u64,
        /// Length of the failed read.
        len: u64,
    },
    /// `nr_modules` exceeds [`MAX_MODULES`].
    TooManyModules(u32),
    /// `memmap_entries` exceeds [`MAX_MEMMAP_ENTRIES`].
    TooManyMemmapEntries(u32),
    /// A string at `paddr` has no NUL within [`MAX_STRING_LEN`] bytes.
    StringTooLong {
        /// Physical address of the string.
        paddr: u64,
    },
    /// An array address plus its size overflows the address space.
    AddressOverflow {
        /// Physical address of the array.
        paddr: u64,
    },
}

impl fmt::Display for PvhError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PvhError::BadMagic(m) => write!(f, "PVH start info: bad magic {m:#x}"),
            PvhError::Unreadable { paddr, len } => {
                write!(f, "PVH start info: cannot read {len} bytes at {paddr:#x}")
            }
            PvhError::TooManyModules(n) => {
                write!(f, "PVH start info: {n} modules (max {MAX_MODULES})")
            }
            PvhError::TooManyMemmapEntries(n) => {
                write!(
                    f,
                    "PVH start info: {n} memory-map entries (max {MAX_MEMMAP_ENTRIES})"
                )
            }
            PvhError::StringTooLong { paddr } => {
                write!(
                    f,
                    "PVH start info: string at {paddr:#x} longer than {MAX_STRING_LEN} bytes"
                )
            }
            PvhError::AddressOverflow { paddr } => {
                write!(
                    f,
                    "PVH start info: array at {paddr:#x} overflows the address space"
                )
            }
        }
    }
}

/// A boot module (for example the initrd).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Physical address of the module's data.
    pub paddr: u64,
    /// Size of the module in bytes.
    pub size: u64,
    /// The module's command line, if it has one.
    pub cmdline: Option<String>,
    /// Physical address of the module's command line (0 if none).
    pub cmdline_paddr: u64,
}

/// A parsed `hvm_start_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartInfo {
    /// Structure version (0 or 1; QEMU passes 1).
    pub version: u32,
    /// Flags word.
    pub flags: u32,
    /// Boot modules, in order.
    pub modules: Vec<Module>,
    /// The kernel command line, if present.
    pub cmdline: Option<String>,
    /// Physical address of the ACPI RSDP (0 if not given).
    pub rsdp_paddr: u64,
    /// Memory map (empty for version 0); zero-sized entries are dropped.
    pub memory_map: Vec<MemoryRegion>,
    /// Physical address the structure was read from.
    pub paddr: u64,
    /// Physical address of the module list (0 / unused if no modules).
    pub modlist_paddr: u64,
    /// Physical address of the command line (0 if none).
    pub cmdline_paddr: u64,
    /// Physical address of the memory map.
    pub memmap_paddr: u64,
    /// Number of memory-map entries as given (including zero-sized ones).
    pub memmap_entries: u32,
}

fn unreadable(paddr: u64, len: u64) -> PvhError {
    PvhError::Unreadable { paddr, len }
}

fn field_u32(mem: &impl PhysRead, base: u64, off: u64) -> Result<u32, PvhError> {
    let a = base
        .checked_add(off)
        .ok_or(PvhError::AddressOverflow { paddr: base })?;
    read_u32(mem, a).ok_or_else(|| unreadable(a, 4))
}

fn field_u64(mem: &impl PhysRead, base: u64, off: u64) -> Result<u64, PvhError> {
    let a = base
        .checked_add(off)
        .ok_or(PvhError::AddressOverflow { paddr: base })?;
    read_u64(mem, a).ok_or_else(|| unreadable(a, 8))
}

/// Reads a NUL-terminated string of at most [`MAX_STRING_LEN`] bytes.
///
/// Bytes that are not valid UTF-8 are replaced by U+FFFD.
pub fn read_cstr(mem: &impl PhysRead, paddr: u64) -> Result<String, PvhError> {
    const CHUNK: usize = 64;
    let mut bytes: Vec<u8> = Vec::new();
    let mut chunk = [0u8; CHUNK];
    while bytes.len() <= MAX_STRING_LEN {
        let at = paddr
            .checked_add(bytes.len() as u64)
            .ok_or(PvhError::AddressOverflow { paddr })?;
        if mem.read(at, &mut chunk) {
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                bytes.extend_from_slice(&chunk[..nul]);
                return finish_str(bytes, paddr);
            }
            bytes.extend_from_slice(&chunk);
        } else {
            // The chunk crosses the end of readable memory: go byte by byte.
            for i in 0..CHUNK as u64 {
                let a = at
                    .checked_add(i)
                    .ok_or(PvhError::AddressOverflow { paddr })?;
                let mut b = [0u8; 1];
                if !mem.read(a, &mut b) {
                    return Err(unreadable(a, 1));
                }
                if b[0] == 0 {
                    return finish_str(bytes, paddr);
                }
                bytes.push(b[0]);
            }
        }
    }
    Err(PvhError::StringTooLong { paddr })
}

fn finish_str(bytes: Vec<u8>, paddr: u64) -> Result<String, PvhError> {
    if bytes.len() > MAX_STRING_LEN {
        return Err(PvhError::StringTooLong { paddr });
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn opt_cstr(mem: &impl PhysRead, paddr: u64) -> Result<Option<String>, PvhError> {
    if paddr == 0 {
        Ok(None)
    } else {
        read_cstr(mem, paddr).map(Some)
    }
}

fn array_end(paddr: u64, count: u32, entry: u64) -> Result<u64, PvhError> {
    (count as u64)
        .checked_mul(entry)
        .and_then(|len| paddr.checked_add(len))
        .ok_or(PvhError::AddressOverflow { paddr })
}

/// Parses the `hvm_start_info` at physical address `paddr`.
///
/// Version 0 structures have no memory map; for version 1 and later the
/// memory map is read (later versions' extra fields are ignored). Module and
/// memory-map counts are capped at [`MAX_MODULES`] and
/// [`MAX_MEMMAP_ENTRIES`]; strings at [`MAX_STRING_LEN`].
pub fn parse_start_info(mem: &impl PhysRead, paddr: u64) -> Result<StartInfo, PvhError> {
    array_end(paddr, 1, START_INFO_SIZE_V1)?;
    let magic = field_u32(mem, paddr, 0)?;
    if magic != START_INFO_MAGIC {
        return Err(PvhError::BadMagic(magic));
    }
    let version = field_u32(mem, paddr, 4)?;
    let flags = field_u32(mem, paddr, 8)?;
    let nr_modules = field_u32(mem, paddr, 12)?;
    let modlist_paddr = field_u64(mem, paddr, 16)?;
    let cmdline_paddr = field_u64(mem, paddr, 24)?;
    let rsdp_paddr = field_u64(mem, paddr, 32)?;
    let (memmap_paddr, memmap_entries) = if version >= 1 {
        (field_u64(mem, paddr, 40)?, field_u32(mem, paddr, 48)?)
    } else {
        (0, 0)
    };

    if nr_modules > MAX_MODULES {
        return Err(PvhError::TooManyModules(nr_modules));
    }
    if memmap_entries > MAX_MEMMAP_ENTRIES {
        return Err(PvhError::TooManyMemmapEntries(memmap_entries));
    }

    let cmdline = opt_cstr(mem, cmdline_paddr)?;

    let mut modules = Vec::with_capacity(nr_modules as usize);
    if nr_modules > 0 {
        array_end(modlist_paddr, nr_modules, MODULE_ENTRY_SIZE)?;
        for i in 0..nr_modules as u64 {
            let e = modlist_paddr + i * MODULE_ENTRY_SIZE;
            let mpaddr = field_u64(mem, e, 0)?;
            let size = field_u64(mem, e, 8)?;
            let mcmd = field_u64(mem, e, 16)?;
            modules.push(Module {
                paddr: mpaddr,
                size,
                cmdline: opt_cstr(mem, mcmd)?,
                cmdline_paddr: mcmd,
            });
        }
    }

    let mut memory_map = Vec::with_capacity(memmap_entries as usize);
    if memmap_entries > 0 {
        array_end(memmap_paddr, memmap_entries, MEMMAP_ENTRY_SIZE)?;
        for i in 0..memmap_entries as u64 {
            let e = memmap_paddr + i * MEMMAP_ENTRY_SIZE;
            let addr = field_u64(mem, e, 0)?;
            let size = field_u64(mem, e, 8)?;
            let ty = field_u32(mem, e, 16)?;
            if size > 0 {
                memory_map.push(MemoryRegion::from_e820(addr, size, ty));
            }
        }
    }

    Ok(StartInfo {
        version,
        flags,
        modules,
        cmdline,
        rsdp_paddr,
        memory_map,
        paddr,
        modlist_paddr,
        cmdline_paddr,
        memmap_paddr,
        memmap_entries,
    })
}

fn push_range(out: &mut Vec<(u64, u64)>, start: u64, len: u64) {
    if len > 0 {
        out.push((start, start.saturating_add(len)));
    }
}

/// Physical ranges occupied by the start-info metadata: the structure
/// itself, the module list, every command-line string (with its NUL) and
/// the memory map. Reserve these before handing out frames if the start
/// info is still needed. Module *data* is not included: see
/// [`module_extents`].
pub fn start_info_extent(info: &StartInfo) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let header = if info.version >= 1 {
        START_INFO_SIZE_V1
    } else {
        START_INFO_SIZE_V0
    };
    push_range(&mut out, info.paddr, header);
    push_range(
        &mut out,
        info.modlist_paddr,
        info.modules.len() as u64 * MODULE_ENTRY_SIZE,
    );
    if let Some(c) = &info.cmdline {
        push_range(&mut out, info.cmdline_paddr, c.len() as u64 + 1);
    }
    for m in &info.modules {
        if let Some(c) = &m.cmdline {
            push_range(&mut out, m.cmdline_paddr, c.len() as u64 + 1);
        }
    }
    push_range(
        &mut out,
        info.memmap_paddr,
        info.memmap_entries as u64 * MEMMAP_ENTRY_SIZE,
    );
    out
}

/// Physical ranges holding the modules' data (for example the initrd).
pub fn module_extents(info: &StartInfo) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for m in &info.modules {
        push_range(&mut out, m.paddr, m.size);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memmap::RegionKind;
    use alloc::vec;

    /// Memory made of a few disjoint buffers.
    struct Sparse(Vec<(u64, Vec<u8>)>);
    impl PhysRead for Sparse {
        fn read(&self, paddr: u64, buf: &mut [u8]) -> bool {
            self.0
                .iter()
                .any(|(b, d)| SliceReader { base: *b, data: d }.read(paddr, buf))
        }
    }

    fn put(buf: &mut [u8], off: usize, v: &[u8]) {
        buf[off..off + v.len()].copy_from_slice(v);
    }

    /// One 8 KiB page at 0x1000 laid out like QEMU does it.
    fn qemu_like() -> Vec<u8> {
        let mut m = vec![0u8; 0x2000];
        let base = 0x1000u64;
        put(&mut m, 0, &START_INFO_MAGIC.to_le_bytes());
        put(&mut m, 4, &1u32.to_le_bytes());
        put(&mut m, 8, &0u32.to_le_bytes());
        put(&mut m, 12, &1u32.to_le_bytes());
        put(&mut m, 16, &(base + 0x100).to_le_bytes());
        put(&mut m, 24, &(base + 0x200).to_le_bytes());
        put(&mut m, 32, &0xf5a40u64.to_le_bytes());
        put(&mut m, 40, &(base + 0x400).to_le_bytes());
        put(&mut m, 48, &3u32.to_le_bytes());
        // module
        put(&mut m, 0x100, &0x1f00_0000u64.to_le_bytes());
        put(&mut m, 0x108, &0x12345u64.to_le_bytes());
        put(&mut m, 0x110, &(base + 0x300).to_le_bytes());
        put(&mut m, 0x200, b"console=ttyS0 log=debug\0");
        put(&mut m, 0x300, b"initrd\0");
        // memory map
        let entries: [(u64, u64, u32); 3] = [
            (0, 0x9fc00, 1),
            (0x9fc00, 0x400, 2),
            (0x100000, 0x1fee0000, 1),
        ];
        for (i, (a, s, t)) in entries.iter().enumerate() {
            let o = 0x400 + i * 24;
            put(&mut m, o, &a.to_le_bytes());
            put(&mut m, o + 8, &s.to_le_bytes());
            put(&mut m, o + 16, &t.to_le_bytes());
        }
        m
    }

    #[test]
    fn parses_qemu_like() {
        let data = qemu_like();
        let mem = SliceReader {
            base: 0x1000,
            data: &data,
        };
        let si = parse_start_info(&mem, 0x1000).unwrap();
        assert_eq!(si.version, 1);
        assert_eq!(si.cmdline.as_deref(), Some("console=ttyS0 log=debug"));
        assert_eq!(si.rsdp_paddr, 0xf5a40);
        assert_eq!(
            si.modules,
            vec![Module {
                paddr: 0x1f00_0000,
                size: 0x12345,
                cmdline: Some("initrd".into()),
                cmdline_paddr: 0x1300
            }]
        );
        assert_eq!(si.memory_map.len(), 3);
        assert_eq!(si.memory_map[1].kind, RegionKind::Reserved);
        assert_eq!(si.memory_map[2].end, 0x1ffe_0000);
        assert_eq!(
            start_info_extent(&si),
            vec![
                (0x1000, 0x1038),
                (0x1100, 0x1120),
                (0x1200, 0x1218),
                (0x1300, 0x1307),
                (0x1400, 0x1448)
            ]
        );
        assert_eq!(module_extents(&si), vec![(0x1f00_0000, 0x1f01_2345)]);
    }

    #[test]
    fn version0_has_no_memmap() {
        let mut data = qemu_like();
        put(&mut data, 4, &0u32.to_le_bytes());
        let si = parse_start_info(
            &SliceReader {
                base: 0x1000,
                data: &data,
            },
            0x1000,
        )
        .unwrap();
        assert!(si.memory_map.is_empty());
        assert_eq!(start_info_extent(&si)[0], (0x1000, 0x1028));
    }

    #[test]
    fn errors() {
        let data = qemu_like();
        let mem = SliceReader {
            base: 0x1000,
            data: &data,
        };
        assert_eq!(parse_start_info(&mem, 0x1004), Err(PvhError::BadMagic(1)));
        assert!(matches!(
            parse_start_info(&mem, 0),
            Err(PvhError::Unreadable { .. })
        ));
        assert!(matches!(
            parse_start_info(&mem, u64::MAX - 8),
            Err(PvhError::AddressOverflow { .. })
        ));

        let mut d = data.clone();
        put(&mut d, 12, &1000u32.to_le_bytes());
        let m = SliceReader {
            base: 0x1000,
            data: &d,
        };
        assert_eq!(
            parse_start_info(&m, 0x1000),
            Err(PvhError::TooManyModules(1000))
        );

        let mut d = data.clone();
        put(&mut d, 48, &100_000u32.to_le_bytes());
        let m = SliceReader {
            base: 0x1000,
            data: &d,
        };
        assert_eq!(
            parse_start_info(&m, 0x1000),
            Err(PvhError::TooManyMemmapEntries(100_000))
        );

        // Memory map running off the end of memory.
        let mut d = data.clone();
        put(&mut d, 48, &400u32.to_le_bytes());
        let m = SliceReader {
            base: 0x1000,
            data: &d,
        };
        assert!(matches!(
            parse_start_info(&m, 0x1000),
            Err(PvhError::Unreadable { .. })
        ));

        // Module list address overflow.
        let mut d = data.clone();
        put(&mut d, 16, &(u64::MAX - 20).to_le_bytes());
        let m = SliceReader {
            base: 0x1000,
            data: &d,
        };
        assert!(matches!(
            parse_start_info(&m, 0x1000),
            Err(PvhError::AddressOverflow { .. })
        ));
    }

    #[test]
    fn strings() {
        // Unterminated string at the end of memory.
        let mut d = qemu_like();
        let n = d.len();
        put(&mut d, n - 3, b"abc");
        put(&mut d, 24, &(0x1000 + n as u64 - 3).to_le_bytes());
        let m = SliceReader {
            base: 0x1000,
            data: &d,
        };
        assert!(matches!(
            parse_start_info(&m, 0x1000),
            Err(PvhError::Unreadable { .. })
        ));

        // String ending exactly at the end of memory, not chunk aligned.
        put(&mut d, n - 3, b"ab\0");
        let si = parse_start_info(&m_of(&d), 0x1000).unwrap();
        assert_eq!(si.cmdline.as_deref(), Some("ab"));

        // Exactly MAX_STRING_LEN bytes is fine, one more is not.
        let mut big = vec![b'x'; MAX_STRING_LEN + 10];
        big[MAX_STRING_LEN] = 0;
        let mem = Sparse(vec![(0x1000, qemu_like()), (0x10_0000, big.clone())]);
        assert_eq!(read_cstr(&mem, 0x10_0000).unwrap().len(), MAX_STRING_LEN);
        assert_eq!(
            read_cstr(&mem, 0x10_0001).unwrap().len(),
            MAX_STRING_LEN - 1
        );
        big[MAX_STRING_LEN] = b'x';
        big[MAX_STRING_LEN + 1] = 0;
        let mem = Sparse(vec![(0x10_0000, big)]);
        assert_eq!(
            read_cstr(&mem, 0x10_0000),
            Err(PvhError::StringTooLong { paddr: 0x10_0000 })
        );

        // Invalid UTF-8 is replaced, not rejected.
        let mem = Sparse(vec![(0x2000, vec![b'a', 0xff, b'b', 0])]);
        assert_eq!(read_cstr(&mem, 0x2000).unwrap(), "a\u{fffd}b");
    }

    fn m_of(d: &[u8]) -> SliceReader<'_> {
        SliceReader {
            base: 0x1000,
            data: d,
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            /// Corrupting any bytes of a valid start info never panics; a
            /// successful parse respects the caps.
            #[test]
            fn mutated_start_info(flips in proptest::collection::vec((0usize..0x480, any::<u8>()), 1..8)) {
                let mut d = qemu_like();
                for (i, v) in flips {
                    d[i] ^= v;
                }
                let mem = SliceReader { base: 0x1000, data: &d };
                if let Ok(si) = parse_start_info(&mem, 0x1000) {
                    prop_assert!(si.modules.len() <= MAX_MODULES as usize);
                    prop_assert!(si.memory_map.len() <= MAX_MEMMAP_ENTRIES as usize);
                    prop_assert!(si.cmdline.as_ref().is_none_or(|c| c.len() <= 3 * MAX_STRING_LEN));
                    let _ = start_info_extent(&si);
                    let _ = module_extents(&si);
                }
            }

            /// Random memory never panics.
            #[test]
            fn random_start_info(bytes in proptest::collection::vec(any::<u8>(), 0..128), magic in any::<bool>()) {
                let mut d = bytes;
                if magic && d.len() >= 4 {
                    d[..4].copy_from_slice(&START_INFO_MAGIC.to_le_bytes());
                }
                let mem = SliceReader { base: 0, data: &d };
                let _ = parse_start_info(&mem, 0);
            }
        }
    }
}

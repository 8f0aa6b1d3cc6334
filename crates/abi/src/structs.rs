//! Byte-exact layouts of the structures the Linux x86-64 kernel exchanges with
//! programs.
//!
//! Each structure has `SIZE`, `to_bytes() -> [u8; SIZE]` (little-endian,
//! padding and reserved fields zero) and `from_bytes(&[u8; SIZE]) -> Self`;
//! `from_slice(&[u8]) -> Option<Self>` accepts a slice of at least `SIZE`
//! bytes. No `unsafe`: every field is placed with `to_le_bytes` at its offset.

use alloc::vec::Vec;

/// Writes `v` at `off` (little-endian). Offsets are constants of this module.
macro_rules! put {
    ($b:expr, $off:expr, $v:expr) => {{
        let bytes = $v.to_le_bytes();
        $b[$off..$off + bytes.len()].copy_from_slice(&bytes);
    }};
}

/// Reads a little-endian `$t` at `off`.
macro_rules! get {
    ($b:expr, $off:expr, $t:ty) => {{
        const N: usize = core::mem::size_of::<$t>();
        let mut a = [0u8; N];
        a.copy_from_slice(&$b[$off..$off + N]);
        <$t>::from_le_bytes(a)
    }};
}

/// `from_slice` in terms of `from_bytes`.
macro_rules! from_slice {
    ($size:literal) => {
        /// Parses the first `SIZE` bytes of `b`; `None` if it is shorter.
        pub fn from_slice(b: &[u8]) -> Option<Self> {
            let arr: &[u8; $size] = b.get(..$size)?.try_into().ok()?;
            Some(Self::from_bytes(arr))
        }
    };
}

/// `struct timespec`: seconds and nanoseconds (16 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timespec {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds.
    pub tv_nsec: i64,
}

impl Timespec {
    /// Size in bytes.
    pub const SIZE: usize = 16;
    /// `UTIME_NOW` in `tv_nsec` (`utimensat`).
    pub const UTIME_NOW: i64 = (1 << 30) - 1;
    /// `UTIME_OMIT` in `tv_nsec` (`utimensat`).
    pub const UTIME_OMIT: i64 = (1 << 30) - 2;

    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        put!(b, 0, self.tv_sec);
        put!(b, 8, self.tv_nsec);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 16]) -> Self {
        Self {
            tv_sec: get!(b, 0, i64),
            tv_nsec: get!(b, 8, i64),
        }
    }
    from_slice!(16);

    /// Whether `tv_nsec` is in `0..1_000_000_000` and `tv_sec >= 0`, as
    /// `nanosleep` and friends require.
    pub fn is_valid(&self) -> bool {
        self.tv_sec >= 0 && (0..1_000_000_000).contains(&self.tv_nsec)
    }
    /// From nanoseconds.
    pub fn from_nanos(ns: u64) -> Self {
        // Both parts fit: u64::MAX / 1e9 < i64::MAX.
        Self {
            tv_sec: (ns / 1_000_000_000) as i64,
            tv_nsec: (ns % 1_000_000_000) as i64,
        }
    }
    /// To nanoseconds, saturating; `None` if not [`valid`](Self::is_valid).
    pub fn to_nanos(&self) -> Option<u64> {
        if !self.is_valid() {
            return None;
        }
        Some(
            (self.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(self.tv_nsec as u64),
        )
    }
}

/// `struct timeval`: seconds and microseconds (16 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timeval {
    /// Seconds.
    pub tv_sec: i64,
    /// Microseconds.
    pub tv_usec: i64,
}

impl Timeval {
    /// Size in bytes.
    pub const SIZE: usize = 16;
    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        put!(b, 0, self.tv_sec);
        put!(b, 8, self.tv_usec);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 16]) -> Self {
        Self {
            tv_sec: get!(b, 0, i64),
            tv_usec: get!(b, 8, i64),
        }
    }
    from_slice!(16);
    /// From nanoseconds (truncated to microseconds).
    pub fn from_nanos(ns: u64) -> Self {
        Self {
            tv_sec: (ns / 1_000_000_000) as i64,
            tv_usec: ((ns % 1_000_000_000) / 1000) as i64,
        }
    }
}

/// `struct stat` of x86-64 (`newstat`/`newfstatat`), 144 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stat {
    /// Device id of the containing file system.
    pub st_dev: u64,
    /// Inode number.
    pub st_ino: u64,
    /// Number of hard links.
    pub st_nlink: u64,
    /// Type and permission bits.
    pub st_mode: u32,
    /// Owner.
    pub st_uid: u32,
    /// Group.
    pub st_gid: u32,
    /// Device id (for device files).
    pub st_rdev: u64,
    /// Size in bytes.
    pub st_size: i64,
    /// Preferred I/O block size.
    pub st_blksize: i64,
    /// Number of 512-byte blocks.
    pub st_blocks: i64,
    /// Last access.
    pub st_atime: Timespec,
    /// Last modification.
    pub st_mtime: Timespec,
    /// Last status change.
    pub st_ctime: Timespec,
}

impl Stat {
    /// Size in bytes.
    pub const SIZE: usize = 144;
    /// Offsets of the fields, as in Linux.
    pub const OFF_DEV: usize = 0;
    /// Offset of `st_ino`.
    pub const OFF_INO: usize = 8;
    /// Offset of `st_nlink`.
    pub const OFF_NLINK: usize = 16;
    /// Offset of `st_mode`.
    pub const OFF_MODE: usize = 24;
    /// Offset of `st_uid`.
    pub const OFF_UID: usize = 28;
    /// Offset of `st_gid`.
    pub const OFF_GID: usize = 32;
    /// Offset of `st_rdev`.
    pub const OFF_RDEV: usize = 40;
    /// Offset of `st_size`.
    pub const OFF_SIZE: usize = 48;
    /// Offset of `st_blksize`.
    pub const OFF_BLKSIZE: usize = 56;
    /// Offset of `st_blocks`.
    pub const OFF_BLOCKS: usize = 64;
    /// Offset of `st_atime` (`st_atim`).
    pub const OFF_ATIME: usize = 72;
    /// Offset of `st_mtime` (`st_mtim`).
    pub const OFF_MTIME: usize = 88;
    /// Offset of `st_ctime` (`st_ctim`).
    pub const OFF_CTIME: usize = 104;

    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 144] {
        let mut b = [0u8; 144];
        put!(b, Self::OFF_DEV, self.st_dev);
        put!(b, Self::OFF_INO, self.st_ino);
        put!(b, Self::OFF_NLINK, self.st_nlink);
        put!(b, Self::OFF_MODE, self.st_mode);
        put!(b, Self::OFF_UID, self.st_uid);
        put!(b, Self::OFF_GID, self.st_gid);
        put!(b, Self::OFF_RDEV, self.st_rdev);
        put!(b, Self::OFF_SIZE, self.st_size);
        put!(b, Self::OFF_BLKSIZE, self.st_blksize);
        put!(b, Self::OFF_BLOCKS, self.st_blocks);
        b[Self::OFF_ATIME..Self::OFF_ATIME + 16].copy_from_slice(&self.st_atime.to_bytes());
        b[Self::OFF_MTIME..Self::OFF_MTIME + 16].copy_from_slice(&self.st_mtime.to_bytes());
        b[Self::OFF_CTIME..Self::OFF_CTIME + 16].copy_from_slice(&self.st_ctime.to_bytes());
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 144]) -> Self {
        let ts = |off: usize| Timespec {
            tv_sec: get!(b, off, i64),
            tv_nsec: get!(b, off + 8, i64),
        };
        Self {
            st_dev: get!(b, Self::OFF_DEV, u64),
            st_ino: get!(b, Self::OFF_INO, u64),
            st_nlink: get!(b, Self::OFF_NLINK, u64),
            st_mode: get!(b, Self::OFF_MODE, u32),
            st_uid: get!(b, Self::OFF_UID, u32),
            st_gid: get!(b, Self::OFF_GID, u32),
            st_rdev: get!(b, Self::OFF_RDEV, u64),
            st_size: get!(b, Self::OFF_SIZE, i64),
            st_blksize: get!(b, Self::OFF_BLKSIZE, i64),
            st_blocks: get!(b, Self::OFF_BLOCKS, i64),
            st_atime: ts(Self::OFF_ATIME),
            st_mtime: ts(Self::OFF_MTIME),
            st_ctime: ts(Self::OFF_CTIME),
        }
    }
    from_slice!(144);
}

/// `struct statx_timestamp` (16 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StatxTimestamp {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds.
    pub tv_nsec: u32,
}

impl StatxTimestamp {
    fn put(&self, b: &mut [u8], off: usize) {
        put!(b, off, self.tv_sec);
        put!(b, off + 8, self.tv_nsec);
    }
    fn get(b: &[u8], off: usize) -> Self {
        Self {
            tv_sec: get!(b, off, i64),
            tv_nsec: get!(b, off + 8, u32),
        }
    }
}

impl From<Timespec> for StatxTimestamp {
    fn from(t: Timespec) -> Self {
        Self {
            tv_sec: t.tv_sec,
            tv_nsec: t.tv_nsec as u32,
        }
    }
}

/// `struct statx` (256 bytes; fields after `stx_subvol` are zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Statx {
    /// Which fields are filled (`STATX_*`).
    pub stx_mask: u32,
    /// Preferred I/O block size.
    pub stx_blksize: u32,
    /// `STATX_ATTR_*` flags.
    pub stx_attributes: u64,
    /// Number of hard links.
    pub stx_nlink: u32,
    /// Owner.
    pub stx_uid: u32,
    /// Group.
    pub stx_gid: u32,
    /// Type and permission bits.
    pub stx_mode: u16,
    /// Inode number.
    pub stx_ino: u64,
    /// Size in bytes.
    pub stx_size: u64,
    /// Number of 512-byte blocks.
    pub stx_blocks: u64,
    /// Which `stx_attributes` bits are supported.
    pub stx_attributes_mask: u64,
    /// Last access.
    pub stx_atime: StatxTimestamp,
    /// Creation.
    pub stx_btime: StatxTimestamp,
    /// Last status change.
    pub stx_ctime: StatxTimestamp,
    /// Last modification.
    pub stx_mtime: StatxTimestamp,
    /// Device major (for device files).
    pub stx_rdev_major: u32,
    /// Device minor (for device files).
    pub stx_rdev_minor: u32,
    /// Major of the containing device.
    pub stx_dev_major: u32,
    /// Minor of the containing device.
    pub stx_dev_minor: u32,
    /// Mount id.
    pub stx_mnt_id: u64,
    /// Memory alignment for direct I/O.
    pub stx_dio_mem_align: u32,
    /// File offset alignment for direct I/O.
    pub stx_dio_offset_align: u32,
    /// Subvolume id.
    pub stx_subvol: u64,
}

impl Statx {
    /// Size in bytes.
    pub const SIZE: usize = 256;
    /// Offset of `stx_mode`.
    pub const OFF_MODE: usize = 28;
    /// Offset of `stx_ino`.
    pub const OFF_INO: usize = 32;
    /// Offset of `stx_size`.
    pub const OFF_SIZE: usize = 40;
    /// Offset of `stx_atime`.
    pub const OFF_ATIME: usize = 64;
    /// Offset of `stx_btime`.
    pub const OFF_BTIME: usize = 80;
    /// Offset of `stx_ctime`.
    pub const OFF_CTIME: usize = 96;
    /// Offset of `stx_mtime`.
    pub const OFF_MTIME: usize = 112;
    /// Offset of `stx_rdev_major`.
    pub const OFF_RDEV_MAJOR: usize = 128;
    /// Offset of `stx_dev_major`.
    pub const OFF_DEV_MAJOR: usize = 136;
    /// Offset of `stx_mnt_id`.
    pub const OFF_MNT_ID: usize = 144;
    /// Offset of `stx_dio_mem_align`.
    pub const OFF_DIO_MEM_ALIGN: usize = 152;
    /// Offset of `stx_subvol`.
    pub const OFF_SUBVOL: usize = 160;

    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 256] {
        let mut b = [0u8; 256];
        put!(b, 0, self.stx_mask);
        put!(b, 4, self.stx_blksize);
        put!(b, 8, self.stx_attributes);
        put!(b, 16, self.stx_nlink);
        put!(b, 20, self.stx_uid);
        put!(b, 24, self.stx_gid);
        put!(b, Self::OFF_MODE, self.stx_mode);
        put!(b, Self::OFF_INO, self.stx_ino);
        put!(b, Self::OFF_SIZE, self.stx_size);
        put!(b, 48, self.stx_blocks);
        put!(b, 56, self.stx_attributes_mask);
        self.stx_atime.put(&mut b, Self::OFF_ATIME);
        self.stx_btime.put(&mut b, Self::OFF_BTIME);
        self.stx_ctime.put(&mut b, Self::OFF_CTIME);
        self.stx_mtime.put(&mut b, Self::OFF_MTIME);
        put!(b, Self::OFF_RDEV_MAJOR, self.stx_rdev_major);
        put!(b, 132, self.stx_rdev_minor);
        put!(b, Self::OFF_DEV_MAJOR, self.stx_dev_major);
        put!(b, 140, self.stx_dev_minor);
        put!(b, Self::OFF_MNT_ID, self.stx_mnt_id);
        put!(b, Self::OFF_DIO_MEM_ALIGN, self.stx_dio_mem_align);
        put!(b, 156, self.stx_dio_offset_align);
        put!(b, Self::OFF_SUBVOL, self.stx_subvol);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 256]) -> Self {
        Self {
            stx_mask: get!(b, 0, u32),
            stx_blksize: get!(b, 4, u32),
            stx_attributes: get!(b, 8, u64),
            stx_nlink: get!(b, 16, u32),
            stx_uid: get!(b, 20, u32),
            stx_gid: get!(b, 24, u32),
            stx_mode: get!(b, Self::OFF_MODE, u16),
            stx_ino: get!(b, Self::OFF_INO, u64),
            stx_size: get!(b, Self::OFF_SIZE, u64),
            stx_blocks: get!(b, 48, u64),
            stx_attributes_mask: get!(b, 56, u64),
            stx_atime: StatxTimestamp::get(b, Self::OFF_ATIME),
            stx_btime: StatxTimestamp::get(b, Self::OFF_BTIME),
            stx_ctime: StatxTimestamp::get(b, Self::OFF_CTIME),
            stx_mtime: StatxTimestamp::get(b, Self::OFF_MTIME),
            stx_rdev_major: get!(b, Self::OFF_RDEV_MAJOR, u32),
            stx_rdev_minor: get!(b, 132, u32),
            stx_dev_major: get!(b, Self::OFF_DEV_MAJOR, u32),
            stx_dev_minor: get!(b, 140, u32),
            stx_mnt_id: get!(b, Self::OFF_MNT_ID, u64),
            stx_dio_mem_align: get!(b, Self::OFF_DIO_MEM_ALIGN, u32),
            stx_dio_offset_align: get!(b, 156, u32),
            stx_subvol: get!(b, Self::OFF_SUBVOL, u64),
        }
    }
    from_slice!(256);
}

/// Length of each field of [`Utsname`].
pub const UTSNAME_LEN: usize = 65;

/// `struct new_utsname` (`uname`): six NUL-terminated fields of 65 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Utsname {
    /// Operating system name, e.g. `Linux`.
    pub sysname: [u8; UTSNAME_LEN],
    /// Host name.
    pub nodename: [u8; UTSNAME_LEN],
    /// Release, e.g. `6.1.0`.
    pub release: [u8; UTSNAME_LEN],
    /// Version string.
    pub version: [u8; UTSNAME_LEN],
    /// Machine, e.g. `x86_64`.
    pub machine: [u8; UTSNAME_LEN],
    /// NIS domain name.
    pub domainname: [u8; UTSNAME_LEN],
}

impl Default for Utsname {
    fn default() -> Self {
        Self {
            sysname: [0; UTSNAME_LEN],
            nodename: [0; UTSNAME_LEN],
            release: [0; UTSNAME_LEN],
            version: [0; UTSNAME_LEN],
            machine: [0; UTSNAME_LEN],
            domainname: [0; UTSNAME_LEN],
        }
    }
}

impl Utsname {
    /// Size in bytes.
    pub const SIZE: usize = 6 * UTSNAME_LEN;

    /// A field from a string, truncated to 64 bytes so a NUL always ends it.
    pub fn field(s: &[u8]) -> [u8; UTSNAME_LEN] {
        let mut f = [0u8; UTSNAME_LEN];
        let n = s.len().min(UTSNAME_LEN - 1);
        f[..n].copy_from_slice(&s[..n]);
        f
    }
    /// From the six strings (each truncated to 64 bytes).
    pub fn new(
        sysname: &[u8],
        nodename: &[u8],
        release: &[u8],
        version: &[u8],
        machine: &[u8],
        domainname: &[u8],
    ) -> Self {
        Self {
            sysname: Self::field(sysname),
            nodename: Self::field(nodename),
            release: Self::field(release),
            version: Self::field(version),
            machine: Self::field(machine),
            domainname: Self::field(domainname),
        }
    }
    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 390] {
        let mut b = [0u8; 390];
        for (i, f) in [
            &self.sysname,
            &self.nodename,
            &self.release,
            &self.version,
            &self.machine,
            &self.domainname,
        ]
        .into_iter()
        .enumerate()
        {
            b[i * UTSNAME_LEN..(i + 1) * UTSNAME_LEN].copy_from_slice(f);
        }
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 390]) -> Self {
        let f = |i: usize| {
            let mut a = [0u8; UTSNAME_LEN];
            a.copy_from_slice(&b[i * UTSNAME_LEN..(i + 1) * UTSNAME_LEN]);
            a
        };
        Self {
            sysname: f(0),
            nodename: f(1),
            release: f(2),
            version: f(3),
            machine: f(4),
            domainname: f(5),
        }
    }
    from_slice!(390);
}

/// `struct sysinfo` of x86-64 (112 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sysinfo {
    /// Seconds since boot.
    pub uptime: i64,
    /// 1, 5 and 15 minute load averages (fixed point, `1 << 16` = 1.0).
    pub loads: [u64; 3],
    /// Total usable memory (in `mem_unit`s).
    pub totalram: u64,
    /// Free memory.
    pub freeram: u64,
    /// Shared memory.
    pub sharedram: u64,
    /// Buffer memory.
    pub bufferram: u64,
    /// Total swap.
    pub totalswap: u64,
    /// Free swap.
    pub freeswap: u64,
    /// Number of processes.
    pub procs: u16,
    /// Total high memory.
    pub totalhigh: u64,
    /// Free high memory.
    pub freehigh: u64,
    /// Unit of the memory fields in bytes.
    pub mem_unit: u32,
}

impl Sysinfo {
    /// Size in bytes.
    pub const SIZE: usize = 112;
    /// Offset of `procs`.
    pub const OFF_PROCS: usize = 80;
    /// Offset of `totalhigh`.
    pub const OFF_TOTALHIGH: usize = 88;
    /// Offset of `mem_unit`.
    pub const OFF_MEM_UNIT: usize = 104;

    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 112] {
        let mut b = [0u8; 112];
        put!(b, 0, self.uptime);
        for (i, l) in self.loads.iter().enumerate() {
            put!(b, 8 + 8 * i, *l);
        }
        put!(b, 32, self.totalram);
        put!(b, 40, self.freeram);
        put!(b, 48, self.sharedram);
        put!(b, 56, self.bufferram);
        put!(b, 64, self.totalswap);
        put!(b, 72, self.freeswap);
        put!(b, Self::OFF_PROCS, self.procs);
        put!(b, Self::OFF_TOTALHIGH, self.totalhigh);
        put!(b, 96, self.freehigh);
        put!(b, Self::OFF_MEM_UNIT, self.mem_unit);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 112]) -> Self {
        Self {
            uptime: get!(b, 0, i64),
            loads: [get!(b, 8, u64), get!(b, 16, u64), get!(b, 24, u64)],
            totalram: get!(b, 32, u64),
            freeram: get!(b, 40, u64),
            sharedram: get!(b, 48, u64),
            bufferram: get!(b, 56, u64),
            totalswap: get!(b, 64, u64),
            freeswap: get!(b, 72, u64),
            procs: get!(b, Self::OFF_PROCS, u16),
            totalhigh: get!(b, Self::OFF_TOTALHIGH, u64),
            freehigh: get!(b, 96, u64),
            mem_unit: get!(b, Self::OFF_MEM_UNIT, u32),
        }
    }
    from_slice!(112);
}

/// The kernel's `struct termios` (what `TCGETS`/`TCSETS` use), 36 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Termios {
    /// Input modes.
    pub c_iflag: u32,
    /// Output modes.
    pub c_oflag: u32,
    /// Control modes.
    pub c_cflag: u32,
    /// Local modes.
    pub c_lflag: u32,
    /// Line discipline.
    pub c_line: u8,
    /// Control characters, indexed by `V*`.
    pub c_cc: [u8; crate::flags::NCCS],
}

impl Termios {
    /// Size in bytes.
    pub const SIZE: usize = 36;

    /// Linux's defaults for a fresh terminal (`tty_std_termios`):
    /// `ICRNL|IXON`, `OPOST|ONLCR`, `B38400|CS8|CREAD|HUPCL`,
    /// `ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN`, and the usual
    /// control characters (^C ^\ DEL ^U ^D, VTIME 0, VMIN 1, ^Q ^S ^Z ^R ^O ^W ^V).
    pub fn linux_default() -> Self {
        use crate::flags::*;
        let mut c_cc = [0u8; NCCS];
        c_cc[VINTR] = 0x03;
        c_cc[VQUIT] = 0x1c;
        c_cc[VERASE] = 0x7f;
        c_cc[VKILL] = 0x15;
        c_cc[VEOF] = 0x04;
        c_cc[VTIME] = 0;
        c_cc[VMIN] = 1;
        c_cc[VSTART] = 0x11;
        c_cc[VSTOP] = 0x13;
        c_cc[VSUSP] = 0x1a;
        c_cc[VREPRINT] = 0x12;
        c_cc[VDISCARD] = 0x0f;
        c_cc[VWERASE] = 0x17;
        c_cc[VLNEXT] = 0x16;
        Self {
            c_iflag: ICRNL | IXON,
            c_oflag: OPOST | ONLCR,
            c_cflag: B38400 | CS8 | CREAD | HUPCL,
            c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            c_line: 0,
            c_cc,
        }
    }
    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 36] {
        let mut b = [0u8; 36];
        put!(b, 0, self.c_iflag);
        put!(b, 4, self.c_oflag);
        put!(b, 8, self.c_cflag);
        put!(b, 12, self.c_lflag);
        b[16] = self.c_line;
        b[17..36].copy_from_slice(&self.c_cc);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 36]) -> Self {
        let mut c_cc = [0u8; crate::flags::NCCS];
        c_cc.copy_from_slice(&b[17..36]);
        Self {
            c_iflag: get!(b, 0, u32),
            c_oflag: get!(b, 4, u32),
            c_cflag: get!(b, 8, u32),
            c_lflag: get!(b, 12, u32),
            c_line: b[16],
            c_cc,
        }
    }
    from_slice!(36);
}

/// `struct winsize` (`TIOCGWINSZ`), 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Winsize {
    /// Rows.
    pub ws_row: u16,
    /// Columns.
    pub ws_col: u16,
    /// Width in pixels.
    pub ws_xpixel: u16,
    /// Height in pixels.
    pub ws_ypixel: u16,
}

impl Winsize {
    /// Size in bytes.
    pub const SIZE: usize = 8;
    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        put!(b, 0, self.ws_row);
        put!(b, 2, self.ws_col);
        put!(b, 4, self.ws_xpixel);
        put!(b, 6, self.ws_ypixel);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 8]) -> Self {
        Self {
            ws_row: get!(b, 0, u16),
            ws_col: get!(b, 2, u16),
            ws_xpixel: get!(b, 4, u16),
            ws_ypixel: get!(b, 6, u16),
        }
    }
    from_slice!(8);
}

/// `struct rlimit` (16 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rlimit {
    /// Soft limit.
    pub rlim_cur: u64,
    /// Hard limit.
    pub rlim_max: u64,
}

impl Rlimit {
    /// Size in bytes.
    pub const SIZE: usize = 16;
    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        put!(b, 0, self.rlim_cur);
        put!(b, 8, self.rlim_max);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 16]) -> Self {
        Self {
            rlim_cur: get!(b, 0, u64),
            rlim_max: get!(b, 8, u64),
        }
    }
    from_slice!(16);
}

/// `struct iovec` (16 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Iovec {
    /// User address of the buffer.
    pub iov_base: u64,
    /// Length of the buffer.
    pub iov_len: u64,
}

impl Iovec {
    /// Size in bytes.
    pub const SIZE: usize = 16;
    /// Most entries an iovec array may have (`UIO_MAXIOV`).
    pub const MAX_COUNT: usize = 1024;
    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        put!(b, 0, self.iov_base);
        put!(b, 8, self.iov_len);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 16]) -> Self {
        Self {
            iov_base: get!(b, 0, u64),
            iov_len: get!(b, 8, u64),
        }
    }
    from_slice!(16);
    /// Parses an array of iovecs copied from the user; `None` if `b.len()` is
    /// not a multiple of 16.
    pub fn parse_array(b: &[u8]) -> Option<Vec<Iovec>> {
        if !b.len().is_multiple_of(Self::SIZE) {
            return None;
        }
        Some(
            b.chunks_exact(Self::SIZE)
                .filter_map(Self::from_slice)
                .collect(),
        )
    }
}

/// `struct pollfd` (8 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pollfd {
    /// Descriptor (negative: ignored).
    pub fd: i32,
    /// Requested events (`POLL*`).
    pub events: u16,
    /// Returned events.
    pub revents: u16,
}

impl Pollfd {
    /// Size in bytes.
    pub const SIZE: usize = 8;
    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        put!(b, 0, self.fd);
        put!(b, 4, self.events);
        put!(b, 6, self.revents);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 8]) -> Self {
        Self {
            fd: get!(b, 0, i32),
            events: get!(b, 4, u16),
            revents: get!(b, 6, u16),
        }
    }
    from_slice!(8);
}

/// The kernel's `struct sigaction` for `rt_sigaction` on x86-64 (32 bytes,
/// with an 8-byte signal mask).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KSigaction {
    /// Handler address, or `SIG_DFL`/`SIG_IGN`.
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// Return trampoline (`SA_RESTORER`).
    pub restorer: u64,
    /// Signals blocked during the handler (bit `n-1` for signal `n`).
    pub mask: u64,
}

impl KSigaction {
    /// Size in bytes.
    pub const SIZE: usize = 32;
    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        put!(b, 0, self.handler);
        put!(b, 8, self.flags);
        put!(b, 16, self.restorer);
        put!(b, 24, self.mask);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 32]) -> Self {
        Self {
            handler: get!(b, 0, u64),
            flags: get!(b, 8, u64),
            restorer: get!(b, 16, u64),
            mask: get!(b, 24, u64),
        }
    }
    from_slice!(32);
}

/// `struct tms` (`times`), 32 bytes of clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tms {
    /// User time.
    pub tms_utime: i64,
    /// System time.
    pub tms_stime: i64,
    /// User time of waited-for children.
    pub tms_cutime: i64,
    /// System time of waited-for children.
    pub tms_cstime: i64,
}

impl Tms {
    /// Size in bytes.
    pub const SIZE: usize = 32;
    /// Serializes.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        put!(b, 0, self.tms_utime);
        put!(b, 8, self.tms_stime);
        put!(b, 16, self.tms_cutime);
        put!(b, 24, self.tms_cstime);
        b
    }
    /// Parses.
    pub fn from_bytes(b: &[u8; 32]) -> Self {
        Self {
            tms_utime: get!(b, 0, i64),
            tms_stime: get!(b, 8, i64),
            tms_cutime: get!(b, 16, i64),
            tms_cstime: get!(b, 24, i64),
        }
    }
    from_slice!(32);
}

/// Offset of `d_name` in `struct linux_dirent64`.
pub const DIRENT64_NAME_OFFSET: usize = 19;

/// `d_reclen` of a `linux_dirent64` with a name of `name_len` bytes:
/// `19 + name_len + 1` (NUL) rounded up to a multiple of 8.
pub const fn dirent64_len(name_len: usize) -> usize {
    (DIRENT64_NAME_OFFSET + name_len + 1 + 7) & !7
}

/// Appends one `struct linux_dirent64` (`getdents64`) to `buf`: `d_ino`,
/// `d_off`, `d_reclen`, `d_type`, the name, a NUL and zero padding to a
/// multiple of 8. Returns the record length. The caller checks that the record
/// fits the user's buffer (`dirent64_len`) before pushing; a name longer than
/// `u16::MAX - 27` bytes (never a valid file name) is truncated to keep
/// `d_reclen` representable.
pub fn push_dirent64(buf: &mut Vec<u8>, ino: u64, off: i64, d_type: u8, name: &[u8]) -> usize {
    let name = &name[..name.len().min(u16::MAX as usize - 27)];
    let reclen = dirent64_len(name.len());
    buf.reserve(reclen);
    buf.extend_from_slice(&ino.to_le_bytes());
    buf.extend_from_slice(&off.to_le_bytes());
    buf.extend_from_slice(&(reclen as u16).to_le_bytes());
    buf.push(d_type);
    buf.extend_from_slice(name);
    let pad = reclen - DIRENT64_NAME_OFFSET - name.len();
    buf.extend(core::iter::repeat_n(0u8, pad));
    reclen
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn sizes() {
        assert_eq!(Stat::SIZE, Stat::default().to_bytes().len());
        assert_eq!(Statx::SIZE, Statx::default().to_bytes().len());
        assert_eq!(Utsname::SIZE, 390);
        assert_eq!(Termios::SIZE, 36);
        assert_eq!(Sysinfo::SIZE, 112);
    }

    #[test]
    fn stat_round_trip() {
        let s = Stat {
            st_dev: 1,
            st_ino: 2,
            st_nlink: 3,
            st_mode: 0o100644,
            st_uid: 5,
            st_gid: 6,
            st_rdev: 7,
            st_size: 8,
            st_blksize: 4096,
            st_blocks: 10,
            st_atime: Timespec {
                tv_sec: 11,
                tv_nsec: 12,
            },
            st_mtime: Timespec {
                tv_sec: 13,
                tv_nsec: 14,
            },
            st_ctime: Timespec {
                tv_sec: 15,
                tv_nsec: 16,
            },
        };
        let b = s.to_bytes();
        assert_eq!(Stat::from_bytes(&b), s);
        assert_eq!(&b[24..28], &0o100644u32.to_le_bytes());
        assert_eq!(&b[120..144], &[0u8; 24]);
        assert_eq!(Stat::from_slice(&b[..143]), None);
    }

    #[test]
    fn dirent64() {
        assert_eq!(dirent64_len(0), 24);
        assert_eq!(dirent64_len(1), 24);
        assert_eq!(dirent64_len(4), 24);
        assert_eq!(dirent64_len(5), 32);
        let mut buf = vec![];
        assert_eq!(push_dirent64(&mut buf, 7, 1, 4, b"."), 24);
        assert_eq!(push_dirent64(&mut buf, 9, 2, 8, b"hello"), 32);
        assert_eq!(buf.len(), 56);
        assert_eq!(&buf[0..8], &7u64.to_le_bytes());
        assert_eq!(&buf[16..18], &24u16.to_le_bytes());
        assert_eq!(buf[18], 4);
        assert_eq!(&buf[19..21], b".\0");
        assert_eq!(&buf[24 + 19..24 + 25], b"hello\0");
        assert_eq!(&buf[24 + 16..24 + 18], &32u16.to_le_bytes());
    }

    #[test]
    fn timespec() {
        assert_eq!(
            Timespec::from_nanos(1_500_000_000),
            Timespec {
                tv_sec: 1,
                tv_nsec: 500_000_000
            }
        );
        assert_eq!(
            Timespec {
                tv_sec: 1,
                tv_nsec: 1_000_000_000
            }
            .to_nanos(),
            None
        );
        assert_eq!(
            Timespec {
                tv_sec: -1,
                tv_nsec: 0
            }
            .to_nanos(),
            None
        );
        assert_eq!(
            Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0
            }
            .to_nanos(),
            Some(u64::MAX)
        );
    }

    #[test]
    fn iovec_array() {
        let mut b = vec![];
        b.extend_from_slice(
            &Iovec {
                iov_base: 0x1000,
                iov_len: 5,
            }
            .to_bytes(),
        );
        b.extend_from_slice(
            &Iovec {
                iov_base: 0x2000,
                iov_len: 6,
            }
            .to_bytes(),
        );
        let v = Iovec::parse_array(&b).unwrap();
        assert_eq!(
            v[1],
            Iovec {
                iov_base: 0x2000,
                iov_len: 6
            }
        );
        assert!(Iovec::parse_array(&b[..17]).is_none());
    }

    #[test]
    fn utsname() {
        let u = Utsname::new(b"Linux", b"nros", b"6.1.0", b"#1", b"x86_64", b"(none)");
        let b = u.to_bytes();
        assert_eq!(&b[0..6], b"Linux\0");
        assert_eq!(&b[4 * 65..4 * 65 + 7], b"x86_64\0");
        assert_eq!(Utsname::from_bytes(&b), u);
        let long = Utsname::field(&[b'a'; 100]);
        assert_eq!(long[64], 0);
    }

    #[test]
    fn termios_round_trip() {
        let t = Termios::linux_default();
        let b = t.to_bytes();
        assert_eq!(Termios::from_bytes(&b), t);
        assert_eq!(b[17 + crate::flags::VMIN], 1);
    }
}

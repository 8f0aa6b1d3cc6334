//! cpio "newc" archives, the format of Linux initramfs images.
//!
//! * [`entries`] iterates over the members of an archive held in memory
//!   (magic `070701`, or `070702` whose data checksum is then verified), up to
//!   the `TRAILER!!!` member.
//! * [`decompress_if_gzip`] inflates a gzip-compressed archive (one or more
//!   gzip members; CRC-32 and length checked) and passes anything else through.
//! * [`Writer`] builds an archive.
//!
//! Every length and offset read from the input is checked: malformed input
//! gives an [`Error`], never a panic.
//!
//! Layout of one member: a 110-byte ASCII header (`070701` and 13 fields of 8
//! hex digits: ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
//! rdevmajor, rdevminor, namesize, check), the name with its NUL (namesize
//! bytes), zero padding to a multiple of 4 (counted from the start of the
//! archive), the data (filesize bytes) and zero padding to a multiple of 4.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// Magic of the "newc" format.
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
/// Magic of the "crc" format: newc plus a checksum of the data.
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Name of the member that ends an archive.
pub const TRAILER: &[u8] = b"TRAILER!!!";
/// Size of a header.
pub const HEADER_LEN: usize = 110;
/// Default bound on the decompressed size for [`decompress_if_gzip`] (1 GiB).
pub const DEFAULT_LIMIT: usize = 1 << 30;

/// File type bits of a mode.
pub const S_IFMT: u32 = 0o170000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
/// Block device.
pub const S_IFBLK: u32 = 0o060000;
/// FIFO.
pub const S_IFIFO: u32 = 0o010000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140000;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A header does not start with `070701`/`070702` (offset of the header).
    BadMagic(usize),
    /// The archive ends inside a member, or without a trailer.
    Truncated,
    /// A header field is not 8 hex digits (offset of the header).
    BadHex(usize),
    /// A name is empty, lacks its final NUL or contains a NUL (offset of the header).
    BadName(usize),
    /// The checksum of a `070702` member does not match its data (offset of the header).
    BadChecksum(usize),
    /// Malformed gzip stream (bad header, corrupt deflate data, CRC or length mismatch,
    /// trailing garbage).
    BadGzip,
    /// The decompressed data would exceed the limit, or a member is too large
    /// to be written (more than 4 GiB - 1).
    TooLarge,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadMagic(o) => write!(f, "cpio: bad magic at offset {o}"),
            Error::Truncated => f.write_str("cpio: truncated archive"),
            Error::BadHex(o) => write!(f, "cpio: bad hex field in header at offset {o}"),
            Error::BadName(o) => write!(f, "cpio: bad name in header at offset {o}"),
            Error::BadChecksum(o) => write!(f, "cpio: checksum mismatch in member at offset {o}"),
            Error::BadGzip => f.write_str("cpio: malformed gzip data"),
            Error::TooLarge => f.write_str("cpio: too large"),
        }
    }
}

impl core::error::Error for Error {}

/// One member of an archive, borrowing the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The name as stored, without its NUL (may start with `./`, `/` or neither).
    pub name: &'a [u8],
    /// Inode number (members with equal `ino` and `nlink > 1` are hard links).
    pub ino: u32,
    /// Type and permission bits (`S_IF*`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Number of links.
    pub nlink: u32,
    /// Modification time (seconds since the epoch).
    pub mtime: u32,
    /// Major of the containing device.
    pub dev_major: u32,
    /// Minor of the containing device.
    pub dev_minor: u32,
    /// Major of a device file.
    pub rdev_major: u32,
    /// Minor of a device file.
    pub rdev_minor: u32,
    /// Contents (for a symbolic link: its target).
    pub data: &'a [u8],
}

impl<'a> Entry<'a> {
    /// The type bits of `mode`.
    pub fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }
    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type() == S_IFREG
    }
    /// Whether this is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == S_IFLNK
    }
    /// Permission bits (`mode & 0o7777`).
    pub fn perm(&self) -> u32 {
        self.mode & 0o7777
    }
    /// The name relative to the archive's root: leading `/` and `./`
    /// components are removed, so `./bin/sh`, `/bin/sh` and `bin/sh` all give
    /// `bin/sh`, and `.` gives the empty name (the root itself).
    pub fn path(&self) -> &'a [u8] {
        let mut n = self.name;
        loop {
            if let Some(rest) = n.strip_prefix(b"/") {
                n = rest;
            } else if let Some(rest) = n.strip_prefix(b"./") {
                n = rest;
            } else if n == b"." {
                n = &[];
            } else {
                return n;
            }
        }
    }
}

/// Iterator over the members of an archive; see [`entries`].
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    archive: &'a [u8],
    pos: usize,
    done: bool,
}

/// Iterates over the members of a (decompressed) newc archive, stopping at
/// `TRAILER!!!` (which is not returned). The iterator yields one `Err` and then
/// ends if the archive is malformed or ends before its trailer.
pub fn entries(archive: &[u8]) -> Entries<'_> {
    Entries {
        archive,
        pos: 0,
        done: false,
    }
}

impl<'a> Entries<'a> {
    /// Offset of the next header; after the trailer, the offset just past the
    /// trailer's padding (where a concatenated archive could begin).
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn parse_one(&mut self) -> Result<Option<Entry<'a>>, Error> {
        let start = self.pos;
        let a = self.archive;
        let hdr = a
            .get(start..)
            .and_then(|r| r.get(..HEADER_LEN))
            .ok_or(Error::Truncated)?;
        let magic = &hdr[..6];
        let crc = if magic == MAGIC_NEWC {
            false
        } else if magic == MAGIC_CRC {
            true
        } else {
            return Err(Error::BadMagic(start));
        };
        let mut fields = [0u32; 13];
        for (i, f) in fields.iter_mut().enumerate() {
            *f = parse_hex(&hdr[6 + 8 * i..14 + 8 * i]).ok_or(Error::BadHex(start))?;
        }
        let [ino, mode, uid, gid, nlink, mtime, filesize, dev_major, dev_minor, rdev_major, rdev_minor, namesize, check] =
            fields;
        let namesize = namesize as usize;
        let filesize = filesize as usize;
        let name_start = start.checked_add(HEADER_LEN).ok_or(Error::Truncated)?;
        let name_end = name_start.checked_add(namesize).ok_or(Error::Truncated)?;
        let name_nul = a.get(name_start..name_end).ok_or(Error::Truncated)?;
        let (last, name) = name_nul.split_last().ok_or(Error::BadName(start))?;
        if *last != 0 || name.contains(&0) {
            return Err(Error::BadName(start));
        }
        let data_start = align4(name_end).ok_or(Error::Truncated)?;
        let data_end = data_start.checked_add(filesize).ok_or(Error::Truncated)?;
        // An empty member may lack the padding after its name at the very end.
        let data = if filesize == 0 {
            &[][..]
        } else {
            a.get(data_start..data_end).ok_or(Error::Truncated)?
        };
        let next = align4(data_end).ok_or(Error::Truncated)?;
        // The padding of the last member may be missing at the very end.
        self.pos = next.min(a.len());
        if name == TRAILER {
            return Ok(None);
        }
        if crc {
            let sum = data.iter().fold(0u32, |s, &b| s.wrapping_add(u32::from(b)));
            if sum != check {
                return Err(Error::BadChecksum(start));
            }
        }
        Ok(Some(Entry {
            name,
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            dev_major,
            dev_minor,
            rdev_major,
            rdev_minor,
            data,
        }))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.parse_one() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for Entries<'_> {}

fn align4(x: usize) -> Option<usize> {
    Some(x.checked_add(3)? & !3)
}

fn parse_hex(s: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u32::from(d);
    }
    Some(v)
}

// ------------------------------------------------------------------ writer

/// Builds a newc archive in memory.
///
/// Inode numbers are assigned from 1 upwards; uid, gid and device numbers are
/// 0 unless given through [`Writer::add_entry`].
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
    next_ino: u32,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// An empty archive.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            next_ino: 1,
        }
    }

    fn ino(&mut self) -> u32 {
        let i = self.next_ino;
        self.next_ino = self.next_ino.wrapping_add(1).max(1);
        i
    }

    /// Adds a directory (`mode`'s permission bits are used; the type is set).
    pub fn add_dir(&mut self, name: &[u8], mode: u32, mtime: u32) -> Result<(), Error> {
        self.add_raw(name, S_IFDIR | (mode & 0o7777), 2, mtime, (0, 0), b"")
    }

    /// Adds a regular file.
    pub fn add_file(
        &mut self,
        name: &[u8],
        mode: u32,
        mtime: u32,
        data: &[u8],
    ) -> Result<(), Error> {
        self.add_raw(name, S_IFREG | (mode & 0o7777), 1, mtime, (0, 0), data)
    }

    /// Adds a symbolic link (mode `0o120777`) pointing to `target`.
    pub fn add_symlink(&mut self, name: &[u8], target: &[u8], mtime: u32) -> Result<(), Error> {
        self.add_raw(name, S_IFLNK | 0o777, 1, mtime, (0, 0), target)
    }

    /// Adds a device node, FIFO or socket: `mode` includes the type bits
    /// (e.g. `S_IFCHR | 0o600` with `rdev = (5, 1)` for `/dev/console`).
    pub fn add_node(
        &mut self,
        name: &[u8],
        mode: u32,
        mtime: u32,
        rdev: (u32, u32),
    ) -> Result<(), Error> {
        self.add_raw(name, mode, 1, mtime, rdev, b"")
    }

    /// Adds a member with every field as given (`ino` included; `dev_*`
    /// are written as well). Useful to copy members from another archive.
    pub fn add_entry(&mut self, e: &Entry<'_>) -> Result<(), Error> {
        self.check(e.name, e.data)?;
        self.header(
            e.name,
            e.ino,
            e.mode,
            e.uid,
            e.gid,
            e.nlink,
            e.mtime,
            (e.dev_major, e.dev_minor),
            (e.rdev_major, e.rdev_minor),
            e.data.len() as u32,
        );
        self.body(e.name, e.data);
        Ok(())
    }

    fn add_raw(
        &mut self,
        name: &[u8],
        mode: u32,
        nlink: u32,
        mtime: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> Result<(), Error> {
        self.check(name, data)?;
        let ino = self.ino();
        self.header(
            name,
            ino,
            mode,
            0,
            0,
            nlink,
            mtime,
            (0, 0),
            rdev,
            data.len() as u32,
        );
        self.body(name, data);
        Ok(())
    }

    fn check(&self, name: &[u8], data: &[u8]) -> Result<(), Error> {
        if name.is_empty() || name.contains(&0) {
            return Err(Error::BadName(self.buf.len()));
        }
        if u32::try_from(data.len()).is_err() || u32::try_from(name.len() + 1).is_err() {
            return Err(Error::TooLarge);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn header(
        &mut self,
        name: &[u8],
        ino: u32,
        mode: u32,
        uid: u32,
        gid: u32,
        nlink: u32,
        mtime: u32,
        dev: (u32, u32),
        rdev: (u32, u32),
        filesize: u32,
    ) {
        self.buf.extend_from_slice(MAGIC_NEWC);
        let namesize = (name.len() + 1) as u32;
        for v in [
            ino, mode, uid, gid, nlink, mtime, filesize, dev.0, dev.1, rdev.0, rdev.1, namesize, 0,
        ] {
            push_hex(&mut self.buf, v);
        }
    }

    fn body(&mut self, name: &[u8], data: &[u8]) {
        self.buf.extend_from_slice(name);
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.header(TRAILER, 0, 0, 0, 0, 1, 0, (0, 0), (0, 0), 0);
        self.body(TRAILER, b"");
        self.buf
    }
}

fn push_hex(buf: &mut Vec<u8>, v: u32) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for i in (0..8).rev() {
        buf.push(HEX[((v >> (4 * i)) & 0xf) as usize]);
    }
}

// ------------------------------------------------------------------ gzip

/// Whether `bytes` starts with the gzip magic `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// If `bytes` is gzip-compressed (starts with `1f 8b`), inflates it; otherwise
/// returns it unchanged (borrowed).
///
/// Concatenated gzip members are inflated one after the other; zero bytes after
/// the last member are ignored (padding), anything else there is an error.
/// Each member's CRC-32 and length are checked. The output never exceeds
/// `limit` bytes: a larger result is [`Error::TooLarge`] (use
/// [`DEFAULT_LIMIT`] when in doubt).
pub fn decompress_if_gzip(bytes: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, Error> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    gunzip(bytes, limit).map(Cow::Owned)
}

/// Inflates a gzip stream (one or more members), output bounded by `limit`.
pub fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;

    // Size the output from the last member's ISIZE field (exact for the usual
    // single-member file, so no reallocation and no slack), unless it is
    // impossible for deflate (ratio above 1032:1); otherwise guess 4× the
    // input. Never above `limit`; grown by doubling if needed.
    let isize_hint = match bytes.len().checked_sub(4) {
        Some(i) => {
            u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
        }
        None => 0,
    };
    let guess = if isize_hint > 0 && isize_hint <= bytes.len().saturating_mul(1032) {
        isize_hint
    } else {
        bytes.len().saturating_mul(4)
    };
    let mut out = vec![0u8; guess.max(4096).min(limit)];
    let mut out_pos = 0usize;
    let mut pos = 0usize;
    // Boxed: the decompressor state is ~11 KiB, too much for a kernel stack.
    let mut d: Box<DecompressorOxide> = Box::default();
    loop {
        pos = gzip_header(bytes, pos)?;
        d.init();
        let member_start = out_pos;
        loop {
            let input = bytes.get(pos..).ok_or(Error::BadGzip)?;
            let (status, used_in, used_out) = decompress(
                &mut d,
                input,
                &mut out,
                out_pos,
                inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
            );
            pos = pos.checked_add(used_in).ok_or(Error::BadGzip)?;
            out_pos = out_pos.checked_add(used_out).ok_or(Error::BadGzip)?;
            match status {
                TINFLStatus::Done => break,
                TINFLStatus::HasMoreOutput => {
                    if out.len() >= limit {
                        return Err(Error::TooLarge);
                    }
                    let new_len = out.len().saturating_mul(2).min(limit);
                    out.resize(new_len, 0);
                }
                _ => return Err(Error::BadGzip),
            }
        }
        let trailer = bytes
            .get(pos..)
            .and_then(|t| t.get(..8))
            .ok_or(Error::BadGzip)?;
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        let member = out.get(member_start..out_pos).ok_or(Error::BadGzip)?;
        if crc32(member) != crc || member.len() as u32 != isize {
            return Err(Error::BadGzip);
        }
        pos += 8;
        let rest = bytes.get(pos..).unwrap_or(&[]);
        if is_gzip(rest) {
            continue;
        }
        if rest.iter().all(|&b| b == 0) {
            out.truncate(out_pos);
            out.shrink_to_fit();
            return Ok(out);
        }
        return Err(Error::BadGzip);
    }
}

/// Parses a gzip member header at `pos`; returns the offset of the deflate data.
fn gzip_header(b: &[u8], pos: usize) -> Result<usize, Error> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let h = b
        .get(pos..)
        .and_then(|r| r.get(..10))
        .ok_or(Error::BadGzip)?;
    if h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 || h[3] & 0xe0 != 0 {
        return Err(Error::BadGzip);
    }
    let flg = h[3];
    let mut p = pos + 10;
    if flg & FEXTRA != 0 {
        let x = b.get(p..p + 2).ok_or(Error::BadGzip)?;
        let xlen = usize::from(u16::from_le_bytes([x[0], x[1]]));
        p = p + 2 + xlen;
    }
    for flag in [FNAME, FCOMMENT] {
        if flg & flag != 0 {
            let s = b.get(p..).ok_or(Error::BadGzip)?;
            let nul = s.iter().position(|&c| c == 0).ok_or(Error::BadGzip)?;
            p += nul + 1;
        }
    }
    if flg & FHCRC != 0 {
        p += 2;
    }
    if p > b.len() {
        return Err(Error::BadGzip);
    }
    Ok(p)
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-32 (IEEE 802.3, as gzip uses).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn hex() {
        assert_eq!(parse_hex(b"0000001A"), Some(26));
        assert_eq!(parse_hex(b"ffffffff"), Some(u32::MAX));
        assert_eq!(parse_hex(b"0000001G"), None);
        assert_eq!(parse_hex(b"+0000001"), None);
    }

    #[test]
    fn path_normalization() {
        let mut e = Entry {
            name: b"./bin/sh",
            ino: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            nlink: 0,
            mtime: 0,
            dev_major: 0,
            dev_minor: 0,
            rdev_major: 0,
            rdev_minor: 0,
            data: b"",
        };
        assert_eq!(e.path(), b"bin/sh");
        e.name = b"/bin/sh";
        assert_eq!(e.path(), b"bin/sh");
        e.name = b"bin/sh";
        assert_eq!(e.path(), b"bin/sh");
        e.name = b".";
        assert_eq!(e.path(), b"");
        e.name = b"./";
        assert_eq!(e.path(), b"");
        e.name = b".hidden";
        assert_eq!(e.path(), b".hidden");
    }

    #[test]
    fn empty_archive_has_trailer_only() {
        let a = Writer::new().finish();
        assert_eq!(a.len() % 4, 0);
        assert_eq!(entries(&a).count(), 0);
        assert_eq!(entries(&[]).next(), Some(Err(Error::Truncated)));
    }
}

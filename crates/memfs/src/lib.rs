//! An in-memory, hierarchical POSIX file system with Linux semantics.
//!
//! [`Fs`] is a plain sequential data structure. NrOS replicates it per NUMA
//! node with node replication, so every operation is **deterministic**: the
//! current time is an argument (`now`), inode numbers come from a counter,
//! every map is a `BTreeMap`, and there is no global or random state. Two
//! `Fs` values that saw the same sequence of operations are identical (and
//! [`Fs::state_hash`] agrees).
//!
//! # Layout
//!
//! * Inodes live in a `BTreeMap<Ino, Inode>`; inode numbers are allocated
//!   from a monotonically increasing counter and never reused, so a stale
//!   inode number can never name a different file.
//! * A directory maps names to inodes and remembers its parent (for `..` and
//!   [`Fs::path_of`]). Every entry also gets a per-directory sequence number
//!   at insertion; [`Fs::readdir`] lists entries in insertion order and uses
//!   these sequence numbers as cookies, so listing is stable while entries
//!   are added or removed between calls (removed entries are simply skipped,
//!   entries added after the listing started show up at the end).
//! * Regular file data is a sparse map from page index to a 4 KiB page,
//!   `Arc`-shared: cloning an `Fs` (to create the per-node replicas from one
//!   populated instance) copies inode metadata only and shares every page;
//!   a write copies just the page it touches (`Arc::make_mut`). The page map
//!   of a file is itself behind an `Arc`, so cloning is O(inodes + directory
//!   entries), independent of the amount of data.
//!
//! # Semantics
//!
//! Path resolution follows Linux `namei`: absolute paths start at the root,
//! relative ones at the `cwd` argument; `//` collapses; `.` and `..` work
//! (`..` of the root is the root); symbolic links in intermediate components
//! are always followed and the last component is followed on request or when
//! the path ends in a slash; at most [`MAX_SYMLINKS`] (40) links are followed
//! per resolution, then `ELOOP`. An empty path is `ENOENT`, a component longer
//! than [`NAME_MAX`] or a path of [`PATH_MAX`] bytes or more (`PATH_MAX`
//! counts the terminating NUL in Linux) is `ENAMETOOLONG`.
//!
//! The error codes and their precedence follow Linux (the VFS plus tmpfs)
//! for `open`, `mkdir`, `mknod`, `symlink`, `readlink`, `link`, `unlink`,
//! `rmdir`, `rename`, `truncate`, `read`, `write`; each method's
//! documentation lists its cases. A few notable ones:
//!
//! * `open` with `O_CREAT` follows a dangling last symlink and creates its
//!   target (unless `O_EXCL`, which never follows: `EEXIST`); `O_CREAT` with
//!   a trailing slash is `EISDIR`; `O_CREAT | O_DIRECTORY` is `EINVAL`
//!   (Linux ≥ 6.4); `O_TRUNC` truncates an existing regular file whatever
//!   the access mode (Linux does so for `O_RDONLY | O_TRUNC` too).
//! * `rename` replaces atomically, is a no-op when both names refer to the
//!   same inode, and reports `EINVAL` for moving a directory into its own
//!   subtree, `ENOTEMPTY` when the target is an ancestor of the source.
//! * An inode stays alive while it has links **or** pins ([`Fs::pin`]: open
//!   file descriptions, current directories). A removed directory keeps
//!   existing while pinned but is "dead": nothing can be created in it,
//!   `readdir` fails with `ENOENT` and [`Fs::path_of`] returns `None`.
//! * Directory `nlink` is 2 + number of subdirectories; directory `size` is
//!   reported like tmpfs (20 bytes per entry including `.` and `..`).
//!
//! # Not implemented
//!
//! * **Permissions and ownership.** NrOS is single-user: every inode has
//!   uid/gid 0, and no permission bits are checked (they are stored and
//!   reported only). There is no `chown`, no ACLs, no extended attributes.
//! * **atime updates.** Reads take `&self` and never update `atime`, as with
//!   `mount -o noatime`; [`Fs::set_times`] can still set it explicitly.
//! * **Devices, FIFOs, sockets** are just inodes with a type (and `rdev`):
//!   the kernel must dispatch I/O on them itself; `read`/`write`/`truncate`
//!   on them return `EINVAL`.
//! * No size or inode limits (`ENOSPC` is never returned); `O_TMPFILE` is
//!   `EOPNOTSUPP`; no mount points (so no `EXDEV`), no `RENAME_*` flags.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::{max, min};
use core::fmt;

pub use abi::errno::KResult;
pub use abi::Errno;

/// An inode number.
pub type Ino = u64;

/// The inode number of the root directory.
pub const ROOT_INO: Ino = 1;
/// Size of a data page; also reported as `st_blksize`.
pub const PAGE_SIZE: usize = 4096;
/// Longest file name component, in bytes.
pub const NAME_MAX: usize = 255;
/// Path buffer size including the NUL: paths must be shorter than this.
pub const PATH_MAX: usize = 4096;
/// Symbolic links followed per path resolution before `ELOOP`.
pub const MAX_SYMLINKS: u32 = 40;
/// Largest file size; writes and truncations beyond it fail with `EFBIG`.
pub const MAX_FILE_SIZE: u64 = 1 << 40;
/// Largest link count (like ext4); beyond it `link`/`mkdir` fail with `EMLINK`.
pub const LINK_MAX: u32 = 65_000;
/// Directory size per entry, like tmpfs' `BOGO_DIRENT_SIZE`.
const BOGO_DIRENT_SIZE: u64 = 20;
const PAGE: u64 = PAGE_SIZE as u64;

// File type bits of `st_mode` and `open` flags: the Linux values, from the
// ABI crate (re-exported for users of this crate).
pub use abi::flags::{
    O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK,
    O_PATH, O_RDONLY, O_RDWR, O_TMPFILE, O_TRUNC, O_WRONLY, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO,
    S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_ISGID, S_ISUID, S_ISVTX,
};
/// All permission bits `chmod` can set.
pub const S_IALLUGO: u32 = 0o7777;
const O_TMPFILE_BIT: u32 = 0o20000000;

/// A point in time, as in `struct timespec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Timespec {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: u32,
}

impl Timespec {
    /// A time of `sec` seconds and `nsec` nanoseconds.
    pub const fn new(sec: i64, nsec: u32) -> Timespec {
        Timespec { sec, nsec }
    }
}

/// The type of an inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    /// Regular file.
    Regular,
    /// Directory.
    Directory,
    /// Symbolic link.
    Symlink,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Named pipe.
    Fifo,
    /// Unix domain socket.
    Socket,
}

impl FileType {
    /// The `S_IF*` bits of this type.
    pub const fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => S_IFREG,
            FileType::Directory => S_IFDIR,
            FileType::Symlink => S_IFLNK,
            FileType::CharDevice => S_IFCHR,
            FileType::BlockDevice => S_IFBLK,
            FileType::Fifo => S_IFIFO,
            FileType::Socket => S_IFSOCK,
        }
    }

    /// The type named by the `S_IF*` bits of `mode`, if valid.
    pub const fn from_mode(mode: u32) -> Option<FileType> {
        match mode & S_IFMT {
            S_IFREG => Some(FileType::Regular),
            S_IFDIR => Some(FileType::Directory),
            S_IFLNK => Some(FileType::Symlink),
            S_IFCHR => Some(FileType::CharDevice),
            S_IFBLK => Some(FileType::BlockDevice),
            S_IFIFO => Some(FileType::Fifo),
            S_IFSOCK => Some(FileType::Socket),
            _ => None,
        }
    }

    /// The `DT_*` value `getdents64` reports for this type.
    pub const fn dirent_type(self) -> u8 {
        match self {
            FileType::Fifo => 1,
            FileType::CharDevice => 2,
            FileType::Directory => 4,
            FileType::BlockDevice => 6,
            FileType::Regular => 8,
            FileType::Symlink => 10,
            FileType::Socket => 12,
        }
    }
}

/// Inode metadata, as `stat(2)` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Inode number.
    pub ino: Ino,
    /// File type bits | permission bits.
    pub mode: u32,
    /// Number of hard links (0 for a removed but still pinned inode).
    pub nlink: u32,
    /// Owner (always 0).
    pub uid: u32,
    /// Group (always 0).
    pub gid: u32,
    /// Size in bytes (target length for symlinks, tmpfs-style for dirs).
    pub size: u64,
    /// 512-byte units actually allocated.
    pub blocks: u64,
    /// Preferred I/O size: [`PAGE_SIZE`].
    pub blksize: u32,
    /// Device number of a character or block device, else 0.
    pub rdev: u64,
    /// Last access.
    pub atime: Timespec,
    /// Last data modification.
    pub mtime: Timespec,
    /// Last status change.
    pub ctime: Timespec,
}

/// One directory entry returned by [`Fs::readdir`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Inode the entry refers to.
    pub ino: Ino,
    /// Type of that inode.
    pub kind: FileType,
    /// Entry name (no slash, no NUL).
    pub name: Vec<u8>,
}

type Page = Arc<[u8]>;

fn zero_page() -> Page {
    Arc::from(vec![0u8; PAGE_SIZE])
}

#[derive(Clone, Default)]
struct FileData {
    size: u64,
    /// Page index -> page. Invariant: bytes of a page at or beyond `size`
    /// are zero, so growing a file exposes zeros.
    pages: Arc<BTreeMap<u64, Page>>,
}

#[derive(Clone)]
struct Dir {
    /// Parent directory (the root is its own parent). Kept, but stale, for a
    /// removed directory, as Linux keeps `d_parent`.
    parent: Ino,
    /// Name -> (inode, insertion sequence number).
    by_name: BTreeMap<Vec<u8>, (Ino, u64)>,
    /// Insertion sequence number -> name; the `readdir` order.
    by_seq: BTreeMap<u64, Vec<u8>>,
    /// Next sequence number; 0 and 1 are `.` and `..`.
    next_seq: u64,
}

impl Dir {
    fn new(parent: Ino) -> Dir {
        Dir {
            parent,
            by_name: BTreeMap::new(),
            by_seq: BTreeMap::new(),
            next_seq: 2,
        }
    }

    fn get(&self, name: &[u8]) -> Option<Ino> {
        self.by_name.get(name).map(|&(ino, _)| ino)
    }

    fn insert(&mut self, name: &[u8], ino: Ino) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let old = self.by_name.insert(name.to_vec(), (ino, seq));
        debug_assert!(old.is_none());
        self.by_seq.insert(seq, name.to_vec());
    }

    fn remove(&mut self, name: &[u8]) -> Option<Ino> {
        let (ino, seq) = self.by_name.remove(name)?;
        self.by_seq.remove(&seq);
        Some(ino)
    }

    fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[derive(Clone)]
enum Body {
    Regular(FileData),
    Directory(Dir),
    Symlink(Vec<u8>),
    /// Character/block device, FIFO or socket.
    Special(FileType),
}

#[derive(Clone)]
struct Inode {
    perm: u32,
    nlink: u32,
    /// Open references (file descriptions, working directories).
    pins: u32,
    rdev: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
    body: Body,
}

impl Inode {
    fn kind(&self) -> FileType {
        match &self.body {
            Body::Regular(_) => FileType::Regular,
            Body::Directory(_) => FileType::Directory,
            Body::Symlink(_) => FileType::Symlink,
            Body::Special(t) => *t,
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.body, Body::Directory(_))
    }

    fn touch_modified(&mut self, now: Timespec) {
        self.mtime = now;
        self.ctime = now;
    }
}

/// The last component of a path, classified like Linux's `LAST_*` types.
#[derive(Clone, Copy, Debug)]
enum Last<'a> {
    /// The path is `/` (or only slashes).
    Root,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// A normal name.
    Name(&'a [u8]),
}

/// A path resolved up to its last component.
#[derive(Clone, Copy, Debug)]
struct Walked<'a> {
    /// The directory that contains the last component.
    dir: Ino,
    last: Last<'a>,
    /// The path ends in one or more slashes.
    trailing: bool,
}

/// An in-memory file system. See the [crate documentation](crate).
#[derive(Clone)]
pub struct Fs {
    inodes: BTreeMap<Ino, Inode>,
    next_ino: Ino,
}

impl fmt::Debug for Fs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fs")
            .field("inodes", &self.inodes.len())
            .field("next_ino", &self.next_ino)
            .field("bytes_used", &self.bytes_used())
            .finish()
    }
}

impl Fs {
    /// The root directory's inode number.
    pub const ROOT: Ino = ROOT_INO;

    /// An empty file system: just the root directory (mode 0755, uid/gid 0),
    /// all of whose timestamps are `now`.
    pub fn new(now: Timespec) -> Fs {
        let mut inodes = BTreeMap::new();
        inodes.insert(
            ROOT_INO,
            Inode {
                perm: 0o755,
                nlink: 2,
                pins: 0,
                rdev: 0,
                atime: now,
                mtime: now,
                ctime: now,
                body: Body::Directory(Dir::new(ROOT_INO)),
            },
        );
        Fs {
            inodes,
            next_ino: ROOT_INO + 1,
        }
    }

    // ----------------------------------------------------------------------
    // Internal helpers

    fn node(&self, ino: Ino) -> KResult<&Inode> {
        self.inodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn node_mut(&mut self, ino: Ino) -> KResult<&mut Inode> {
        self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn dir(&self, ino: Ino) -> KResult<&Dir> {
        match &self.node(ino)?.body {
            Body::Directory(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> KResult<&mut Dir> {
        match &mut self.node_mut(ino)?.body {
            Body::Directory(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn is_dir(&self, ino: Ino) -> bool {
        self.inodes.get(&ino).is_some_and(Inode::is_dir)
    }

    fn is_symlink(&self, ino: Ino) -> bool {
        matches!(
            self.inodes.get(&ino).map(|i| &i.body),
            Some(Body::Symlink(_))
        )
    }

    /// A removed (but pinned) directory, or a missing inode.
    fn is_dead(&self, ino: Ino) -> bool {
        self.inodes.get(&ino).is_none_or(|i| i.nlink == 0)
    }

    fn free_if_unused(&mut self, ino: Ino) {
        if let Some(i) = self.inodes.get(&ino) {
            if i.nlink == 0 && i.pins == 0 && ino != ROOT_INO {
                self.inodes.remove(&ino);
            }
        }
    }

    /// Creates a new inode named `name` in `parent` (which must be a live
    /// directory without that name) and updates the parent's link count and
    /// timestamps.
    fn create_node(
        &mut self,
        parent: Ino,
        name: &[u8],
        body: Body,
        perm: u32,
        rdev: u64,
        now: Timespec,
    ) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        let is_dir = matches!(body, Body::Directory(_));
        self.inodes.insert(
            ino,
            Inode {
                perm: perm & S_IALLUGO,
                nlink: if is_dir { 2 } else { 1 },
                pins: 0,
                rdev,
                atime: now,
                mtime: now,
                ctime: now,
                body,
            },
        );
        let p = self
            .inodes
            .get_mut(&parent)
            .expect("create_node: parent exists");
        if is_dir {
            p.nlink += 1;
        }
        p.touch_modified(now);
        match &mut p.body {
            Body::Directory(d) => d.insert(name, ino),
            _ => unreachable!("create_node: parent is a directory"),
        }
        ino
    }

    /// The parent of directory `dir` for `..`.
    fn dotdot(&self, dir: Ino) -> KResult<Ino> {
        if dir == ROOT_INO {
            return Ok(ROOT_INO);
        }
        let p = self.dir(dir)?.parent;
        if self.is_dir(p) {
            Ok(p)
        } else {
            Err(Errno::ENOENT)
        }
    }

    /// Resolves every component of `path` but the last, following symlinks.
    fn walk<'a>(&self, start: Ino, path: &'a [u8], hops: &mut u32) -> KResult<Walked<'a>> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let (mut cur, rest) = if path[0] == b'/' {
            (ROOT_INO, path)
        } else {
            (start, path)
        };
        self.dir(cur)?;
        let trailing = rest.ends_with(b"/");
        let mut comps = rest
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .peekable();
        if comps.peek().is_none() {
            // Only slashes (the path is not empty and does not start with a
            // non-slash, so it was absolute).
            return Ok(Walked {
                dir: ROOT_INO,
                last: Last::Root,
                trailing: false,
            });
        }
        loop {
            let c = comps.next().expect("non-empty");
            if comps.peek().is_none() {
                let last = match c {
                    b"." => Last::Dot,
                    b".." => Last::DotDot,
                    name => Last::Name(name),
                };
                return Ok(Walked {
                    dir: cur,
                    last,
                    trailing,
                });
            }
            cur = match c {
                b"." => cur,
                b".." => self.dotdot(cur)?,
                name => {
                    if name.len() > NAME_MAX {
                        return Err(Errno::ENAMETOOLONG);
                    }
                    let child = self.dir(cur)?.get(name).ok_or(Errno::ENOENT)?;
                    let child = if self.is_symlink(child) {
                        self.follow_link(cur, child, hops)?
                    } else {
                        child
                    };
                    if !self.is_dir(child) {
                        return Err(Errno::ENOTDIR);
                    }
                    child
                }
            };
        }
    }

    /// Follows symlink `link` found in directory `dir`.
    fn follow_link(&self, dir: Ino, link: Ino, hops: &mut u32) -> KResult<Ino> {
        *hops += 1;
        if *hops > MAX_SYMLINKS {
            return Err(Errno::ELOOP);
        }
        match &self.node(link)?.body {
            Body::Symlink(target) => self.resolve_at(dir, target, true, hops),
            _ => Ok(link),
        }
    }

    /// Full path resolution.
    fn resolve_at(&self, start: Ino, path: &[u8], follow: bool, hops: &mut u32) -> KResult<Ino> {
        let w = self.walk(start, path, hops)?;
        let ino = match w.last {
            Last::Root => ROOT_INO,
            Last::Dot => w.dir,
            Last::DotDot => self.dotdot(w.dir)?,
            Last::Name(name) => {
                if name.len() > NAME_MAX {
                    return Err(Errno::ENAMETOOLONG);
                }
                self.dir(w.dir)?.get(name).ok_or(Errno::ENOENT)?
            }
        };
        let ino = if (follow || w.trailing) && self.is_symlink(ino) {
            self.follow_link(w.dir, ino, hops)?
        } else {
            ino
        };
        if w.trailing && !self.is_dir(ino) {
            return Err(Errno::ENOTDIR);
        }
        Ok(ino)
    }

    /// Linux `filename_create`: the parent directory and the new name for
    /// `mkdir`, `mknod`, `symlink` and the new name of `link`.
    fn prepare_create<'a>(
        &self,
        cwd: Ino,
        path: &'a [u8],
        want_dir: bool,
    ) -> KResult<(Ino, &'a [u8])> {
        let w = self.walk(cwd, path, &mut 0)?;
        let Last::Name(name) = w.last else {
            return Err(Errno::EEXIST);
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.dir(w.dir)?.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        if (w.trailing && !want_dir) || self.is_dead(w.dir) {
            return Err(Errno::ENOENT);
        }
        Ok((w.dir, name))
    }

    /// Is `anc` a proper ancestor of `node`? Then returns the child of `anc`
    /// on the way to `node` (Linux `d_ancestor`).
    fn ancestor_child(&self, anc: Ino, node: Ino) -> Option<Ino> {
        let mut cur = node;
        // Parent chains are acyclic; the bound is only a safety net.
        for _ in 0..=self.inodes.len() {
            if cur == ROOT_INO {
                return None;
            }
            let p = self.dir(cur).ok()?.parent;
            if p == anc {
                return Some(cur);
            }
            cur = p;
        }
        None
    }

    // ----------------------------------------------------------------------
    // Path operations

    /// Resolves `path` (relative to directory `cwd` unless absolute) to an
    /// inode. Intermediate symlinks are always followed, the last component
    /// only if `follow` (or if the path ends in a slash).
    ///
    /// Errors: `ENOENT` (empty path, missing component, `cwd` missing),
    /// `ENOTDIR` (non-directory used as a directory, trailing slash on a
    /// non-directory, `cwd` not a directory), `ELOOP` (more than 40 symlinks),
    /// `ENAMETOOLONG` (component > 255 bytes or path ≥ 4096 bytes).
    pub fn lookup(&self, cwd: Ino, path: &[u8], follow: bool) -> KResult<Ino> {
        self.resolve_at(cwd, path, follow, &mut 0)
    }

    /// `open(2)`/`creat(2)` on the name space; returns the inode to open.
    ///
    /// `flags` are Linux `O_*` bits. With `O_CREAT`, a missing regular file is
    /// created with permissions `mode & !umask & 0o7777` (a dangling last
    /// symlink is followed and its target created), updating the parent's
    /// mtime/ctime. Errors besides those of [`Fs::lookup`]:
    /// `EEXIST` (`O_CREAT|O_EXCL` and the name exists, even as a symlink),
    /// `EISDIR` (a directory with write access, `O_TRUNC`, or `O_CREAT`;
    /// `O_CREAT` with a trailing slash), `ENOTDIR` (`O_DIRECTORY` on a
    /// non-directory), `ELOOP` (`O_NOFOLLOW` on a symlink, unless `O_PATH`),
    /// `EINVAL` (`O_CREAT|O_DIRECTORY`), `EOPNOTSUPP` (`O_TMPFILE`), `ENOENT`
    /// (creating in a removed directory). `O_TRUNC` truncates an existing
    /// regular file (not a freshly created one) and updates its mtime/ctime.
    pub fn open(
        &mut self,
        cwd: Ino,
        path: &[u8],
        flags: u32,
        mode: u32,
        umask: u32,
        now: Timespec,
    ) -> KResult<Ino> {
        let mut flags = flags;
        if flags & O_TMPFILE_BIT != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if flags & O_PATH != 0 {
            flags &= O_DIRECTORY | O_NOFOLLOW | O_PATH;
        }
        if flags & O_CREAT != 0 && flags & O_DIRECTORY != 0 {
            return Err(Errno::EINVAL);
        }
        let ino = if flags & O_CREAT != 0 {
            match self.open_create(cwd, path, flags, mode & !umask, now)? {
                (ino, true) => return Ok(ino),
                (ino, false) => ino,
            }
        } else {
            self.resolve_at(cwd, path, flags & O_NOFOLLOW == 0, &mut 0)?
        };
        let node = self.node(ino)?;
        if flags & O_EXCL != 0 && flags & O_CREAT != 0 {
            return Err(Errno::EEXIST);
        }
        if node.is_dir() && flags & O_CREAT != 0 {
            return Err(Errno::EISDIR);
        }
        if flags & O_DIRECTORY != 0 && !node.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if flags & O_PATH != 0 {
            return Ok(ino);
        }
        let wants_write = flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0;
        match node.body {
            Body::Directory(_) if wants_write => return Err(Errno::EISDIR),
            Body::Symlink(_) => return Err(Errno::ELOOP),
            Body::Regular(_) if flags & O_TRUNC != 0 => self.truncate(ino, 0, now)?,
            _ => {}
        }
        Ok(ino)
    }

    /// The `O_CREAT` lookup: returns the inode and whether it was created.
    fn open_create(
        &mut self,
        cwd: Ino,
        path: &[u8],
        flags: u32,
        perm: u32,
        now: Timespec,
    ) -> KResult<(Ino, bool)> {
        enum Step {
            Create(Ino, Vec<u8>),
            Existing(Ino),
            Follow(Ino, Vec<u8>),
        }
        let mut hops = 0;
        let mut start = cwd;
        let mut target: Option<Vec<u8>> = None;
        loop {
            let step = {
                let p = target.as_deref().unwrap_or(path);
                let w = self.walk(start, p, &mut hops)?;
                match w.last {
                    Last::Root => Step::Existing(ROOT_INO),
                    Last::Dot => Step::Existing(w.dir),
                    Last::DotDot => Step::Existing(self.dotdot(w.dir)?),
                    Last::Name(name) => {
                        if w.trailing {
                            return Err(Errno::EISDIR);
                        }
                        if self.is_dead(w.dir) {
                            return Err(Errno::ENOENT);
                        }
                        if name.len() > NAME_MAX {
                            return Err(Errno::ENAMETOOLONG);
                        }
                        match self.dir(w.dir)?.get(name) {
                            None => Step::Create(w.dir, name.to_vec()),
                            Some(_) if flags & O_EXCL != 0 => return Err(Errno::EEXIST),
                            Some(ino) => match &self.node(ino)?.body {
                                Body::Symlink(_) if flags & O_NOFOLLOW != 0 => {
                                    return Err(Errno::ELOOP)
                                }
                                Body::Symlink(t) => Step::Follow(w.dir, t.clone()),
                                _ => Step::Existing(ino),
                            },
                        }
                    }
                }
            };
            match step {
                Step::Create(dir, name) => {
                    let body = Body::Regular(FileData::default());
                    return Ok((self.create_node(dir, &name, body, perm, 0, now), true));
                }
                Step::Existing(ino) => return Ok((ino, false)),
                Step::Follow(dir, t) => {
                    hops += 1;
                    if hops > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    start = dir;
                    target = Some(t);
                }
            }
        }
    }

    /// `mkdir(2)`: creates a directory with permissions
    /// `mode & !umask & 0o7777` and returns it.
    ///
    /// Errors: `EEXIST` (name exists, even as a dangling symlink; path is
    /// `/`, `.` or `..`), `ENOENT` (parent missing or removed), `EMLINK`
    /// (parent has [`LINK_MAX`] links), and the errors of [`Fs::lookup`] for
    /// the parent. A trailing slash is allowed.
    pub fn mkdir(
        &mut self,
        cwd: Ino,
        path: &[u8],
        mode: u32,
        umask: u32,
        now: Timespec,
    ) -> KResult<Ino> {
        let (parent, name) = self.prepare_create(cwd, path, true)?;
        if self.node(parent)?.nlink >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        Ok(self.create_node(
            parent,
            name,
            Body::Directory(Dir::new(parent)),
            mode & !umask,
            0,
            now,
        ))
    }

    /// `mknod(2)`: creates a regular file (type bits 0 or `S_IFREG`), a
    /// character or block device (with `rdev`), a FIFO or a socket.
    ///
    /// Errors: `EPERM` (`S_IFDIR`), `EINVAL` (other type bits), `EEXIST`,
    /// `ENOENT` (trailing slash on the new name, parent missing/removed), and
    /// the errors of [`Fs::lookup`] for the parent.
    pub fn mknod(
        &mut self,
        cwd: Ino,
        path: &[u8],
        mode_with_type: u32,
        rdev: u64,
        umask: u32,
        now: Timespec,
    ) -> KResult<Ino> {
        let kind = match mode_with_type & S_IFMT {
            0 => FileType::Regular,
            S_IFDIR => return Err(Errno::EPERM),
            _ => FileType::from_mode(mode_with_type).ok_or(Errno::EINVAL)?,
        };
        let (body, rdev) = match kind {
            FileType::Regular => (Body::Regular(FileData::default()), 0),
            FileType::CharDevice | FileType::BlockDevice => (Body::Special(kind), rdev),
            FileType::Fifo | FileType::Socket => (Body::Special(kind), 0),
            FileType::Directory | FileType::Symlink => return Err(Errno::EINVAL),
        };
        let (parent, name) = self.prepare_create(cwd, path, false)?;
        Ok(self.create_node(parent, name, body, mode_with_type & !umask, rdev, now))
    }

    /// `symlink(2)`: creates `linkpath` as a symbolic link to `target`
    /// (stored verbatim, permissions 0777).
    ///
    /// Errors: `ENOENT` (empty target, trailing slash on `linkpath`, parent
    /// missing), `ENAMETOOLONG` (target ≥ 4096 bytes), `EEXIST`, and the
    /// errors of [`Fs::lookup`] for the parent.
    pub fn symlink(
        &mut self,
        target: &[u8],
        cwd: Ino,
        linkpath: &[u8],
        now: Timespec,
    ) -> KResult<Ino> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let (parent, name) = self.prepare_create(cwd, linkpath, false)?;
        Ok(self.create_node(parent, name, Body::Symlink(target.to_vec()), 0o777, 0, now))
    }

    /// `readlink(2)`: the target of the symlink `path` (not followed).
    ///
    /// Errors: `EINVAL` (not a symlink) and those of [`Fs::lookup`].
    pub fn readlink(&self, cwd: Ino, path: &[u8]) -> KResult<Vec<u8>> {
        let ino = self.lookup(cwd, path, false)?;
        match &self.node(ino)?.body {
            Body::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    /// `link(2)`: gives the inode named `old` (not followed if a symlink)
    /// the additional name `new`. Updates the inode's ctime and the new
    /// parent's mtime/ctime.
    ///
    /// Errors: those of [`Fs::lookup`] for `old`; `EEXIST`, `ENOENT` (trailing
    /// slash on `new`) and parent errors for `new`; then `EPERM` (`old` is a
    /// directory), `EMLINK` ([`LINK_MAX`] links).
    pub fn link(
        &mut self,
        cwd: Ino,
        old: &[u8],
        newcwd: Ino,
        new: &[u8],
        now: Timespec,
    ) -> KResult<()> {
        let src = self.lookup(cwd, old, false)?;
        let (parent, name) = self.prepare_create(newcwd, new, false)?;
        let node = self.node(src)?;
        if node.is_dir() {
            return Err(Errno::EPERM);
        }
        if node.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        if node.nlink >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        let node = self.node_mut(src)?;
        node.nlink += 1;
        node.ctime = now;
        let p = self.node_mut(parent)?;
        p.touch_modified(now);
        if let Body::Directory(d) = &mut p.body {
            d.insert(name, src);
        }
        Ok(())
    }

    /// `unlink(2)`: removes a non-directory name. The inode is freed when its
    /// last link is gone and it is not pinned. Updates the inode's ctime and
    /// the parent's mtime/ctime.
    ///
    /// Errors: `EISDIR` (a directory, or the path is `/`, `.`, `..`),
    /// `ENOTDIR` (trailing slash on a non-directory), `ENOENT`, and the
    /// errors of [`Fs::lookup`] for the parent.
    pub fn unlink(&mut self, cwd: Ino, path: &[u8], now: Timespec) -> KResult<()> {
        let w = self.walk(cwd, path, &mut 0)?;
        let Last::Name(name) = w.last else {
            return Err(Errno::EISDIR);
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let ino = self.dir(w.dir)?.get(name).ok_or(Errno::ENOENT)?;
        if self.is_dir(ino) {
            return Err(Errno::EISDIR);
        }
        if w.trailing {
            return Err(Errno::ENOTDIR);
        }
        self.dir_mut(w.dir)?.remove(name);
        self.node_mut(w.dir)?.touch_modified(now);
        let node = self.node_mut(ino)?;
        node.nlink -= 1;
        node.ctime = now;
        self.free_if_unused(ino);
        Ok(())
    }

    /// `rmdir(2)`: removes an empty directory. It stays usable (but dead)
    /// while pinned. Updates the parent's mtime/ctime and link count.
    ///
    /// Errors: `ENOTEMPTY` (not empty, or the path is `..`), `EINVAL` (`.`),
    /// `EBUSY` (`/`), `ENOTDIR` (not a directory), `ENOENT`, and the errors
    /// of [`Fs::lookup`] for the parent.
    pub fn rmdir(&mut self, cwd: Ino, path: &[u8], now: Timespec) -> KResult<()> {
        let w = self.walk(cwd, path, &mut 0)?;
        let name = match w.last {
            Last::Name(name) => name,
            Last::Dot => return Err(Errno::EINVAL),
            Last::DotDot => return Err(Errno::ENOTEMPTY),
            Last::Root => return Err(Errno::EBUSY),
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let ino = self.dir(w.dir)?.get(name).ok_or(Errno::ENOENT)?;
        if !self.dir(ino)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.dir_mut(w.dir)?.remove(name);
        let p = self.node_mut(w.dir)?;
        p.nlink -= 1;
        p.touch_modified(now);
        let node = self.node_mut(ino)?;
        node.nlink = 0;
        node.ctime = now;
        self.free_if_unused(ino);
        Ok(())
    }

    /// `rename(2)`: atomically gives `old` the name `new`, replacing what
    /// `new` named. Succeeds without doing anything when both name the same
    /// inode. Updates both parents' mtime/ctime and the moved inode's ctime.
    ///
    /// Errors (in Linux order): parent resolution errors of either path;
    /// `EBUSY` (either last component is `/`, `.` or `..`); `ENOENT` (`old`
    /// missing); `ENOTDIR` (trailing slash while `old` is not a directory);
    /// `EINVAL` (moving a directory into its own subtree); `ENOTEMPTY`
    /// (`new` is an ancestor of `old`); `ENOTDIR` (directory over
    /// non-directory); `EISDIR` (non-directory over directory); `ENOENT`
    /// (new parent removed); `EMLINK`; `ENOTEMPTY` (directory over non-empty
    /// directory).
    pub fn rename(
        &mut self,
        oldcwd: Ino,
        old: &[u8],
        newcwd: Ino,
        new: &[u8],
        now: Timespec,
    ) -> KResult<()> {
        let ow = self.walk(oldcwd, old, &mut 0)?;
        let nw = self.walk(newcwd, new, &mut 0)?;
        let (Last::Name(oname), Last::Name(nname)) = (ow.last, nw.last) else {
            return Err(Errno::EBUSY);
        };
        if oname.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let src = self.dir(ow.dir)?.get(oname).ok_or(Errno::ENOENT)?;
        if nname.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let dst = self.dir(nw.dir)?.get(nname);
        let src_is_dir = self.is_dir(src);
        if !src_is_dir && (ow.trailing || nw.trailing) {
            return Err(Errno::ENOTDIR);
        }
        if ow.dir != nw.dir {
            if let Some(trap) = self.ancestor_child(ow.dir, nw.dir) {
                if trap == src {
                    return Err(Errno::EINVAL);
                }
            } else if let Some(trap) = self.ancestor_child(nw.dir, ow.dir) {
                if Some(trap) == dst {
                    return Err(Errno::ENOTEMPTY);
                }
            }
        }
        if Some(src) == dst {
            return Ok(());
        }
        match dst {
            Some(d) => {
                let d_is_dir = self.is_dir(d);
                if src_is_dir && !d_is_dir {
                    return Err(Errno::ENOTDIR);
                }
                if !src_is_dir && d_is_dir {
                    return Err(Errno::EISDIR);
                }
            }
            None => {
                if self.is_dead(nw.dir) {
                    return Err(Errno::ENOENT);
                }
                if src_is_dir && ow.dir != nw.dir && self.node(nw.dir)?.nlink >= LINK_MAX {
                    return Err(Errno::EMLINK);
                }
            }
        }
        if let Some(d) = dst {
            if src_is_dir && !self.dir(d)?.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
        }
        // Checks done; now mutate.
        if let Some(d) = dst {
            self.dir_mut(nw.dir)?.remove(nname);
            let d_is_dir = self.is_dir(d);
            if d_is_dir {
                self.node_mut(nw.dir)?.nlink -= 1;
            }
            let dn = self.node_mut(d)?;
            dn.nlink = if d_is_dir { 0 } else { dn.nlink - 1 };
            dn.ctime = now;
            self.free_if_unused(d);
        }
        self.dir_mut(ow.dir)?.remove(oname);
        self.dir_mut(nw.dir)?.insert(nname, src);
        if src_is_dir {
            self.dir_mut(src)?.parent = nw.dir;
            if ow.dir != nw.dir {
                self.node_mut(ow.dir)?.nlink -= 1;
                self.node_mut(nw.dir)?.nlink += 1;
            }
        }
        self.node_mut(ow.dir)?.touch_modified(now);
        self.node_mut(nw.dir)?.touch_modified(now);
        self.node_mut(src)?.ctime = now;
        Ok(())
    }

    // ----------------------------------------------------------------------
    // Inode operations

    fn file(&self, ino: Ino) -> KResult<&FileData> {
        match &self.node(ino)?.body {
            Body::Regular(f) => Ok(f),
            Body::Directory(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Reads from regular file `ino` at `offset`; returns the number of bytes
    /// read (0 at or past the end). Holes read as zeros. Does not update
    /// atime (noatime).
    ///
    /// Errors: `ENOENT` (no such inode), `EISDIR`, `EINVAL` (not a regular
    /// file).
    pub fn read(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> KResult<usize> {
        let f = self.file(ino)?;
        if offset >= f.size {
            return Ok(0);
        }
        let n = min(buf.len() as u64, f.size - offset) as usize;
        let mut done = 0;
        while done < n {
            let pos = offset + done as u64;
            let in_page = (pos % PAGE) as usize;
            let chunk = min(PAGE_SIZE - in_page, n - done);
            let dst = &mut buf[done..done + chunk];
            match f.pages.get(&(pos / PAGE)) {
                Some(page) => dst.copy_from_slice(&page[in_page..in_page + chunk]),
                None => dst.fill(0),
            }
            done += chunk;
        }
        Ok(n)
    }

    /// Like [`Fs::read`], but appends the bytes to `out` (which must have
    /// room reserved: nothing is zero-filled first and then overwritten).
    pub fn read_append(
        &self,
        ino: Ino,
        offset: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> KResult<usize> {
        let f = self.file(ino)?;
        if offset >= f.size {
            return Ok(0);
        }
        let n = min(len as u64, f.size - offset) as usize;
        let mut done = 0;
        while done < n {
            let pos = offset + done as u64;
            let in_page = (pos % PAGE) as usize;
            let chunk = min(PAGE_SIZE - in_page, n - done);
            match f.pages.get(&(pos / PAGE)) {
                Some(page) => out.extend_from_slice(&page[in_page..in_page + chunk]),
                None => out.resize(out.len() + chunk, 0),
            }
            done += chunk;
        }
        Ok(n)
    }

    /// Writes `data` to regular file `ino` at `offset`, extending the file as
    /// needed; returns the number of bytes written (short only at
    /// [`MAX_FILE_SIZE`]). Pages not written stay unallocated (holes). Sets
    /// mtime/ctime unless `data` is empty.
    ///
    /// Errors: `ENOENT`, `EISDIR`, `EINVAL` (not a regular file), `EFBIG`
    /// (`offset` ≥ [`MAX_FILE_SIZE`] and `data` not empty).
    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8], now: Timespec) -> KResult<usize> {
        self.file(ino)?;
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let n = min(data.len() as u64, MAX_FILE_SIZE - offset) as usize;
        let node = self.node_mut(ino)?;
        let Body::Regular(f) = &mut node.body else {
            unreachable!("checked above");
        };
        let pages = Arc::make_mut(&mut f.pages);
        let mut done = 0;
        while done < n {
            let pos = offset + done as u64;
            let in_page = (pos % PAGE) as usize;
            let chunk = min(PAGE_SIZE - in_page, n - done);
            let page = pages.entry(pos / PAGE).or_insert_with(zero_page);
            Arc::make_mut(page)[in_page..in_page + chunk]
                .copy_from_slice(&data[done..done + chunk]);
            done += chunk;
        }
        f.size = max(f.size, offset + n as u64);
        node.touch_modified(now);
        Ok(n)
    }

    /// Sets the size of regular file `ino` to `len`. Shrinking frees the
    /// pages past the end and zeroes the rest of the last page, so a later
    /// extension reads zeros. Always sets mtime/ctime (like `ftruncate`).
    ///
    /// Errors: `ENOENT`, `EISDIR`, `EINVAL` (not a regular file), `EFBIG`
    /// (`len` > [`MAX_FILE_SIZE`]).
    pub fn truncate(&mut self, ino: Ino, len: u64, now: Timespec) -> KResult<()> {
        self.file(ino)?;
        if len > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let node = self.node_mut(ino)?;
        let Body::Regular(f) = &mut node.body else {
            unreachable!("checked above");
        };
        if len < f.size {
            let keep = len.div_ceil(PAGE);
            let tail = (len % PAGE) as usize;
            let needs_change = f.pages.range(keep..).next().is_some()
                || (tail != 0 && f.pages.contains_key(&(len / PAGE)));
            if needs_change {
                let pages = Arc::make_mut(&mut f.pages);
                pages.split_off(&keep);
                if tail != 0 {
                    if let Some(page) = pages.get_mut(&(len / PAGE)) {
                        if page[tail..].iter().any(|&b| b != 0) {
                            Arc::make_mut(page)[tail..].fill(0);
                        }
                    }
                }
            }
        }
        f.size = len;
        node.touch_modified(now);
        Ok(())
    }

    /// Metadata of inode `ino` (`ENOENT` if there is none).
    pub fn stat(&self, ino: Ino) -> KResult<Stat> {
        let node = self.node(ino)?;
        let (size, blocks) = match &node.body {
            Body::Regular(f) => (f.size, f.pages.len() as u64 * (PAGE / 512)),
            Body::Directory(d) => ((d.by_name.len() as u64 + 2) * BOGO_DIRENT_SIZE, 0),
            Body::Symlink(t) => (t.len() as u64, 0),
            Body::Special(_) => (0, 0),
        };
        Ok(Stat {
            ino,
            mode: node.kind().mode_bits() | node.perm,
            nlink: node.nlink,
            uid: 0,
            gid: 0,
            size,
            blocks,
            blksize: PAGE_SIZE as u32,
            rdev: node.rdev,
            atime: node.atime,
            mtime: node.mtime,
            ctime: node.ctime,
        })
    }

    /// The type of inode `ino` (`ENOENT` if there is none).
    pub fn file_type(&self, ino: Ino) -> KResult<FileType> {
        Ok(self.node(ino)?.kind())
    }

    /// `chmod(2)`: sets the permission bits to `mode & 0o7777`; sets ctime.
    pub fn chmod(&mut self, ino: Ino, mode: u32, now: Timespec) -> KResult<()> {
        let node = self.node_mut(ino)?;
        node.perm = mode & S_IALLUGO;
        node.ctime = now;
        Ok(())
    }

    /// `utimensat(2)`: sets atime and/or mtime (`None` = `UTIME_OMIT`; the
    /// caller resolves `UTIME_NOW`). Sets ctime to `now` unless both are
    /// omitted, which changes nothing.
    pub fn set_times(
        &mut self,
        ino: Ino,
        atime: Option<Timespec>,
        mtime: Option<Timespec>,
        now: Timespec,
    ) -> KResult<()> {
        let node = self.node_mut(ino)?;
        if atime.is_none() && mtime.is_none() {
            return Ok(());
        }
        if let Some(t) = atime {
            node.atime = t;
        }
        if let Some(t) = mtime {
            node.mtime = t;
        }
        node.ctime = now;
        Ok(())
    }

    /// Lists directory `ino`: `.` and `..` first, then the entries in
    /// insertion order (a renamed entry counts as newly inserted). `cookie`
    /// is an opaque position, 0 = start; returns up to `max` entries and the
    /// cookie to continue from (unchanged if nothing was returned, i.e. at
    /// the end). Entries removed between calls are skipped, entries added
    /// between calls are returned later; none is returned twice unless it
    /// is renamed in between.
    ///
    /// Errors: `ENOENT` (no such inode, or the directory was removed),
    /// `ENOTDIR`.
    pub fn readdir(&self, ino: Ino, cookie: u64, max: usize) -> KResult<(Vec<DirEntry>, u64)> {
        let with = self.readdir_with_cookies(ino, cookie, max)?;
        let next = with.last().map_or(cookie, |&(_, c)| c);
        Ok((with.into_iter().map(|(e, _)| e).collect(), next))
    }

    /// Like [`Fs::readdir`], but returns with each entry the cookie of the
    /// entry after it (what `getdents64` reports as `d_off`), so a caller
    /// can stop after any entry.
    pub fn readdir_with_cookies(
        &self,
        ino: Ino,
        cookie: u64,
        max: usize,
    ) -> KResult<Vec<(DirEntry, u64)>> {
        let d = self.dir(ino)?;
        if self.is_dead(ino) {
            return Err(Errno::ENOENT);
        }
        let mut out = Vec::new();
        if cookie == 0 && out.len() < max {
            out.push((
                DirEntry {
                    ino,
                    kind: FileType::Directory,
                    name: b".".to_vec(),
                },
                1,
            ));
        }
        if cookie <= 1 && out.len() < max {
            let parent = if ino == ROOT_INO { ROOT_INO } else { d.parent };
            out.push((
                DirEntry {
                    ino: parent,
                    kind: FileType::Directory,
                    name: b"..".to_vec(),
                },
                2,
            ));
        }
        for (&seq, name) in d.by_seq.range(cookie.max(2)..) {
            if out.len() >= max {
                break;
            }
            let child = d.get(name).expect("by_seq and by_name agree");
            let kind = self.node(child)?.kind();
            out.push((
                DirEntry {
                    ino: child,
                    kind,
                    name: name.clone(),
                },
                seq + 1,
            ));
        }
        Ok(out)
    }

    /// The parent of directory `ino` (the root is its own parent); `None` if
    /// `ino` is not a live directory.
    pub fn parent_of(&self, ino: Ino) -> Option<Ino> {
        if self.is_dead(ino) {
            return None;
        }
        Some(self.dir(ino).ok()?.parent)
    }

    /// The absolute path of directory `ino` (`/` for the root), for
    /// `getcwd`; `None` if `ino` is not a directory or was removed.
    pub fn path_of(&self, ino: Ino) -> Option<Vec<u8>> {
        let mut names: Vec<&[u8]> = Vec::new();
        let mut cur = ino;
        for _ in 0..=self.inodes.len() {
            if self.is_dead(cur) {
                return None;
            }
            let d = self.dir(cur).ok()?;
            if cur == ROOT_INO {
                let mut path = Vec::new();
                for n in names.iter().rev() {
                    path.push(b'/');
                    path.extend_from_slice(n);
                }
                if path.is_empty() {
                    path.push(b'/');
                }
                return Some(path);
            }
            let pd = self.dir(d.parent).ok()?;
            let (name, _) = pd.by_name.iter().find(|(_, &(child, _))| child == cur)?;
            names.push(name);
            cur = d.parent;
        }
        None
    }

    /// Takes an open reference to `ino`: it stays alive (readable, writable,
    /// `stat`-able) after its last link is removed, until [`Fs::unpin`].
    /// Does nothing if `ino` does not exist.
    pub fn pin(&mut self, ino: Ino) {
        if let Some(node) = self.inodes.get_mut(&ino) {
            node.pins = node.pins.saturating_add(1);
        }
    }

    /// Drops a reference taken by [`Fs::pin`]; frees the inode if it has
    /// neither links nor pins left. Does nothing if `ino` does not exist.
    pub fn unpin(&mut self, ino: Ino) {
        if let Some(node) = self.inodes.get_mut(&ino) {
            node.pins = node.pins.saturating_sub(1);
            self.free_if_unused(ino);
        }
    }

    /// Number of live inodes (including unlinked but pinned ones).
    pub fn inode_count(&self) -> usize {
        self.inodes.len()
    }

    /// Bytes of storage in use: 4096 per allocated data page plus symlink
    /// targets. Pages shared with a clone are counted in both.
    pub fn bytes_used(&self) -> u64 {
        self.inodes
            .values()
            .map(|i| match &i.body {
                Body::Regular(f) => f.pages.len() as u64 * PAGE,
                Body::Symlink(t) => t.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// A deterministic 64-bit hash over all state: every inode's metadata
    /// (including pins), directory contents in order, symlink targets and
    /// file pages. Equal for two `Fs` built by the same operations and for
    /// clones; any change to content or metadata changes it (barring a
    /// 64-bit collision).
    pub fn state_hash(&self) -> u64 {
        let mut h = Hasher::new();
        h.u64(self.next_ino);
        h.u64(self.inodes.len() as u64);
        for (&ino, node) in &self.inodes {
            h.u64(ino);
            h.u64(u64::from(node.kind().mode_bits() | node.perm));
            h.u64(u64::from(node.nlink));
            h.u64(u64::from(node.pins));
            h.u64(node.rdev);
            for t in [node.atime, node.mtime, node.ctime] {
                h.u64(t.sec as u64);
                h.u64(u64::from(t.nsec));
            }
            match &node.body {
                Body::Regular(f) => {
                    h.u64(f.size);
                    h.u64(f.pages.len() as u64);
                    for (&idx, page) in f.pages.iter() {
                        h.u64(idx);
                        for word in page.chunks_exact(8) {
                            h.u64(u64::from_le_bytes(word.try_into().expect("8 bytes")));
                        }
                    }
                }
                Body::Directory(d) => {
                    h.u64(d.parent);
                    h.u64(d.next_seq);
                    h.u64(d.by_seq.len() as u64);
                    for (&seq, name) in &d.by_seq {
                        h.u64(seq);
                        h.bytes(name);
                        h.u64(d.get(name).unwrap_or(0));
                    }
                }
                Body::Symlink(t) => h.bytes(t),
                Body::Special(_) => {}
            }
        }
        h.finish()
    }

    // ----------------------------------------------------------------------
    // Population helpers (initrd loading)

    /// Creates directory `path` (absolute, or relative to the root) like
    /// `mkdir -p -m mode`: missing ancestors get permissions 0755, the final
    /// directory (if created) `mode`; all timestamps are `now`. Existing
    /// directories, or symlinks to them, are kept unchanged. Returns the
    /// directory (the root for `/`). `ENOTDIR` if a component exists and is
    /// not a directory.
    pub fn mkdir_all(&mut self, path: &[u8], mode: u32, now: Timespec) -> KResult<Ino> {
        let mut cur = ROOT_INO;
        let mut comps = path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .peekable();
        while let Some(name) = comps.next() {
            let perm = if comps.peek().is_none() { mode } else { 0o755 };
            cur = match self.lookup(cur, name, true) {
                Ok(ino) if self.is_dir(ino) => ino,
                Ok(_) => return Err(Errno::ENOTDIR),
                Err(Errno::ENOENT) => self.mkdir(cur, name, perm, 0, now)?,
                Err(e) => return Err(e),
            };
        }
        Ok(cur)
    }

    /// Creates (or replaces the contents of) regular file `path` (absolute,
    /// or relative to the root) with `data`, creating missing parent
    /// directories (mode 0755). Sets the file's permissions to
    /// `mode & 0o7777` and all its timestamps to `mtime`. Returns the file.
    /// Fails like `open(O_CREAT | O_TRUNC)` (e.g. `EISDIR` for a directory).
    pub fn create_file_with_data(
        &mut self,
        path: &[u8],
        mode: u32,
        data: &[u8],
        mtime: Timespec,
    ) -> KResult<Ino> {
        let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (self.mkdir_all(&path[..i], 0o755, mtime)?, &path[i + 1..]),
            None => (ROOT_INO, path),
        };
        let ino = self.open(parent, name, O_CREAT | O_WRONLY | O_TRUNC, mode, 0, mtime)?;
        self.write(ino, 0, data, mtime)?;
        let node = self.node_mut(ino)?;
        node.perm = mode & S_IALLUGO;
        node.atime = mtime;
        node.mtime = mtime;
        node.ctime = mtime;
        Ok(ino)
    }

    // ----------------------------------------------------------------------
    // Debugging

    /// Checks the internal invariants (link counts, parent pointers, no
    /// unreachable unpinned inodes, zeroed page tails, ...). Meant for tests
    /// and debug builds; O(total size).
    pub fn check_invariants(&self) -> Result<(), String> {
        let root = self.inodes.get(&ROOT_INO).ok_or("no root")?;
        if !root.is_dir() {
            return Err("root is not a directory".into());
        }
        // Count the directory entries naming each inode, and subdirectories.
        let mut entries: BTreeMap<Ino, u32> = BTreeMap::new();
        let mut subdirs: BTreeMap<Ino, u32> = BTreeMap::new();
        for (&ino, node) in &self.inodes {
            if ino >= self.next_ino {
                return Err(format!("inode {ino} >= next_ino"));
            }
            if let Body::Directory(d) = &node.body {
                if d.by_name.len() != d.by_seq.len() {
                    return Err(format!("dir {ino}: index sizes differ"));
                }
                for (seq, name) in &d.by_seq {
                    match d.by_name.get(name) {
                        Some(&(_, s)) if s == *seq => {}
                        _ => return Err(format!("dir {ino}: indexes disagree")),
                    }
                    let bad_name = name.is_empty()
                        || name.len() > NAME_MAX
                        || name.contains(&b'/')
                        || name == b"."
                        || name == b"..";
                    if *seq >= d.next_seq || bad_name {
                        return Err(format!("dir {ino}: bad entry"));
                    }
                }
                if node.nlink == 0 && !d.is_empty() {
                    return Err(format!("dead dir {ino} not empty"));
                }
                for &(child, _) in d.by_name.values() {
                    let c = self
                        .inodes
                        .get(&child)
                        .ok_or_else(|| format!("dir {ino}: dangling entry {child}"))?;
                    *entries.entry(child).or_default() += 1;
                    if let Body::Directory(cd) = &c.body {
                        if cd.parent != ino {
                            return Err(format!(
                                "dir {child}: parent {} but listed in {ino}",
                                cd.parent
                            ));
                        }
                        *subdirs.entry(ino).or_default() += 1;
                    }
                }
            }
        }
        for (&ino, node) in &self.inodes {
            let e = entries.get(&ino).copied().unwrap_or(0);
            match &node.body {
                Body::Directory(_) => {
                    let expect_entries = u32::from(ino != ROOT_INO && node.nlink != 0);
                    if e != expect_entries {
                        return Err(format!("dir {ino}: {e} entries name it"));
                    }
                    let s = subdirs.get(&ino).copied().unwrap_or(0);
                    if node.nlink != 0 && node.nlink != 2 + s {
                        return Err(format!("dir {ino}: nlink {} != 2 + {s}", node.nlink));
                    }
                }
                _ => {
                    if node.nlink != e {
                        return Err(format!("inode {ino}: nlink {} != {e} entries", node.nlink));
                    }
                }
            }
            if let Body::Regular(f) = &node.body {
                if let Some((&last, _)) = f.pages.iter().next_back() {
                    if last >= f.size.div_ceil(PAGE) {
                        return Err(format!("file {ino}: page {last} beyond size {}", f.size));
                    }
                }
                if f.size % PAGE != 0 {
                    if let Some(p) = f.pages.get(&(f.size / PAGE)) {
                        if p[(f.size % PAGE) as usize..].iter().any(|&b| b != 0) {
                            return Err(format!("file {ino}: non-zero tail"));
                        }
                    }
                }
            }
            if node.nlink == 0 && node.pins == 0 && ino != ROOT_INO {
                return Err(format!("inode {ino}: leaked (no links, no pins)"));
            }
        }
        // Every live directory must be reachable from the root by parent
        // pointers without cycles.
        for (&ino, node) in &self.inodes {
            if node.is_dir() && node.nlink != 0 {
                let mut cur = ino;
                let mut steps = 0;
                while cur != ROOT_INO {
                    cur = self
                        .dir(cur)
                        .map_err(|_| format!("dir {ino}: broken parent chain"))?
                        .parent;
                    steps += 1;
                    if steps > self.inodes.len() {
                        return Err(format!("dir {ino}: parent cycle"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// FNV-1a style 64-bit hash with a final avalanche; hand-written so that it
/// is identical everywhere (no random seeds).
struct Hasher(u64);

impl Hasher {
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Hasher {
        Hasher(0xcbf2_9ce4_8422_2325)
    }

    fn u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(Self::PRIME);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        for &x in b {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(Self::PRIME);
        }
    }

    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

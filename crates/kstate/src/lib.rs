//! The replicated state of the NrOS kernel.
//!
//! [`KernelState`] is the kernel's shared mutable state as one plain
//! sequential data structure: the file system ([`memfs::Fs`]), the process
//! table (with each process's file-descriptor table, working directory, umask
//! and address space — mapping database *and* hardware page tables, from
//! [`vspace`]) and the table of open files (offsets and status flags). It has
//! no locks and no interior mutability. The kernel wraps it in
//! [`nr::NodeReplicated`]: one replica per NUMA node, changed only through
//! [`WriteOp`]s that go through the shared log and read through [`ReadOp`]s
//! on the local replica.
//!
//! Every write operation is deterministic: timestamps come in the operation,
//! user data travels in it (`Arc<Vec<u8>>`: the kernel's buffer is moved
//! in, not copied), and the physical frames that back
//! user memory are allocated by the caller *before* the operation and named
//! in it, so every replica maps the same frames. Only page-*table* frames
//! come from the replica's own [`FrameMemory`] (its node's memory): each
//! replica owns a complete page-table hierarchy per process, which a core of
//! that node loads into CR3. State hashes ([`ReadOp::Hash`]) cover page-table
//! *contents* (virtual page → frame and rights), not the table frames, so
//! equal replicas hash equal.
//!
//! The crate is `no_std` and host-tested (see `tests.rs`): the same op
//! sequences are applied through `nr` to several replicas and their hashes
//! compared.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod decode;

use abi::errno::{Errno, KResult};
use abi::flags::{AT_FDCWD, O_ACCMODE, O_APPEND, O_CLOEXEC, O_NONBLOCK, O_PATH, O_RDONLY};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
pub use memfs::{DirEntry, FileType, Fs, Ino, Stat, Timespec};
pub use vspace::{
    Access, AddressSpace, FaultDecision, FrameMemory, MapAt, Populated, PteFlags, VmaKind,
};

/// Process id.
pub type Pid = u32;
/// Id of an open file description (shared by dup'ed descriptors).
pub type FileId = u64;

/// Most live threads in the system, all processes together (Linux's
/// `threads-max`, scaled down): `fork`, `clone` and spawning fail with
/// `EAGAIN` beyond it.
pub const MAX_TASKS: u32 = 1024;

/// Most descriptors a process may hold (`RLIMIT_NOFILE`).
pub const MAX_FDS: i32 = 1024;
/// Largest read or write handled in one operation (Linux caps at 0x7ffff000).
pub const MAX_IO: u64 = 0x7fff_f000;

/// Character-device numbers (`makedev(major, minor)` as Linux encodes them).
pub mod dev {
    /// Linux `makedev` encoding.
    pub const fn makedev(major: u64, minor: u64) -> u64 {
        ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
    }
    /// `/dev/null`.
    pub const NULL: u64 = makedev(1, 3);
    /// `/dev/zero`.
    pub const ZERO: u64 = makedev(1, 5);
    /// `/dev/random`.
    pub const RANDOM: u64 = makedev(1, 8);
    /// `/dev/urandom`.
    pub const URANDOM: u64 = makedev(1, 9);
    /// `/dev/tty`.
    pub const TTY: u64 = makedev(5, 0);
    /// `/dev/console`.
    pub const CONSOLE: u64 = makedev(5, 1);
}

/// What an open file refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileObj {
    /// A file-system inode (regular file, directory, device, symlink with
    /// `O_PATH`).
    Inode(Ino),
    /// Read-only generated content (`/proc` files), captured at open time.
    Buffer(Arc<[u8]>),
    /// One end of a pipe.
    Pipe {
        /// Pipe id.
        id: u64,
        /// The write end (else the read end).
        write: bool,
    },
}

/// Capacity of a pipe (Linux's default).
pub const PIPE_CAPACITY: usize = 65536;

/// A pipe: buffered bytes and the number of open ends.
#[derive(Clone, Debug, Default)]
pub struct Pipe {
    buf: alloc::collections::VecDeque<u8>,
    readers: u32,
    writers: u32,
}

/// An open file description.
#[derive(Clone, Debug)]
pub struct OpenFile {
    /// What it refers to.
    pub obj: FileObj,
    /// Current offset (for directories: the `readdir` cookie).
    pub offset: u64,
    /// Access mode and status flags (`O_ACCMODE`, `O_APPEND`, `O_NONBLOCK`,
    /// `O_PATH`).
    pub flags: u32,
    refs: u32,
}

/// A slot of a descriptor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdEntry {
    /// The open file description.
    pub file: FileId,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
}

/// One process (single-threaded: its thread id is its pid).
pub struct Process<M: FrameMemory> {
    /// Process id.
    pub pid: Pid,
    /// Parent (0 for the first process).
    pub ppid: Pid,
    /// Process group.
    pub pgid: Pid,
    /// Session.
    pub sid: Pid,
    /// Working directory.
    pub cwd: Ino,
    /// File-mode creation mask.
    pub umask: u32,
    fds: BTreeMap<i32, FdEntry>,
    /// Address space: VMAs, brk and this replica's page tables. `None` after
    /// exit.
    pub vm: Option<AddressSpace<M>>,
    /// Path of the executable (`/proc/self/exe`).
    pub exe: Vec<u8>,
    /// Wait status once it has exited (a zombie): `code << 8` for an exit,
    /// the signal number for a fatal signal (Linux's encoding).
    pub exit_status: Option<i32>,
    /// Signals sent to it and not yet handled (bit `n-1` for signal `n`).
    pub pending: u64,
    /// Live threads (the first has the process id as its thread id).
    pub threads: u32,
    /// `exit_group` has begun: its other threads must stop.
    pub exiting: bool,
    /// Where each live thread runs: thread id → core and affinity. The
    /// scheduler's run queues follow this (as in NrOS, the assignment of
    /// threads to cores is part of the replicated process state).
    pub placement: BTreeMap<Pid, Placement>,
    /// Signals sent to one thread (`tgkill`/`tkill`), by thread id; only
    /// that thread takes them.
    pub thread_pending: BTreeMap<Pid, u64>,
    /// Forks of this process whose TLB flush has not finished
    /// ([`WriteOp::Fork`] counts up, [`WriteOp::ForkDone`] down). Until
    /// then another of its threads may still write a now-shared frame
    /// through a stale writable translation, so copy-on-write faults of
    /// this process wait ([`CowOutcome::Busy`]).
    pub forks_in_flight: u32,
    /// Forks of this process so far. A copy-on-write copy taken while
    /// no fork was in flight is valid only if no fork began since
    /// ([`ReadOp::ForkGen`], the `gen` of [`WriteOp::Cow`]).
    pub fork_gen: u64,
}

impl<M: FrameMemory> Process<M> {
    /// A live process with one thread, no signals and no fork in flight.
    fn new(
        (pid, ppid, pgid, sid): (Pid, Pid, Pid, Pid),
        cwd: Ino,
        umask: u32,
        fds: BTreeMap<i32, FdEntry>,
        vm: AddressSpace<M>,
        exe: Vec<u8>,
    ) -> Self {
        Process {
            pid,
            ppid,
            pgid,
            sid,
            cwd,
            umask,
            fds,
            vm: Some(vm),
            exe,
            exit_status: None,
            pending: 0,
            threads: 1,
            exiting: false,
            placement: BTreeMap::new(),
            thread_pending: BTreeMap::new(),
            forks_in_flight: 0,
            fork_gen: 0,
        }
    }
}

/// Which core a thread runs on and which cores it may run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The core whose run queue holds it.
    pub core: u32,
    /// Allowed cores (bit `n` for core `n`; `sched_setaffinity`).
    pub affinity: u64,
}

/// The kernel's replicated state (one copy per NUMA node).
pub struct KernelState<M: FrameMemory + Clone> {
    fs: Fs,
    procs: BTreeMap<Pid, Process<M>>,
    files: BTreeMap<FileId, OpenFile>,
    next_pid: Pid,
    next_file: FileId,
    pipes: BTreeMap<u64, Pipe>,
    next_pipe: u64,
    mem: M,
    kernel_entries: Option<alloc::boxed::Box<[u64; 256]>>,
    locality: Option<Locality>,
    /// Data frames mapped by more than one address space (after `fork`),
    /// with their number of *extra* references (references - 1). A frame
    /// not in here has exactly one reference.
    shared: BTreeMap<u64, u32>,
}

/// Lets the kernel keep a replica's allocations on its own NUMA node even
/// when another node's core applies the log to it (flat combining and log
/// garbage collection do that): `enter(node)` is called before a write
/// operation is applied and returns a token given back to `exit` after.
#[derive(Clone, Copy, Debug)]
pub struct Locality {
    /// NUMA node of this replica.
    pub node: usize,
    /// Called before applying an operation; returns what `exit` needs.
    pub enter: fn(usize) -> usize,
    /// Called after applying it.
    pub exit: fn(usize),
}

/// How to satisfy a `read` after the offset moved ([`WriteOp::ReadAdvance`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadPlan {
    /// Copy `n` bytes of inode `ino` from `offset` (with [`ReadOp::ReadInode`]).
    Inode { ino: Ino, offset: u64, n: u64 },
    /// These bytes.
    Bytes(Vec<u8>),
    /// A character device: the kernel's driver handles it.
    Device { rdev: u64 },
}

/// What a descriptor refers to, for the system-call layer.
#[derive(Clone, Debug)]
pub struct FdInfo {
    /// Object.
    pub obj: FileObj,
    /// Inode type (`None` for buffers).
    pub kind: Option<FileType>,
    /// Device number of character devices.
    pub rdev: u64,
    /// Access mode and status flags.
    pub flags: u32,
    /// Current offset.
    pub offset: u64,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
    /// File size (buffer length for buffers, bytes buffered for pipes).
    pub size: u64,
    /// For pipes: open read ends and write ends.
    pub pipe_ends: (u32, u32),
}

/// Identity of a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    /// Process id.
    pub pid: Pid,
    /// Parent.
    pub ppid: Pid,
    /// Process group.
    pub pgid: Pid,
    /// Session.
    pub sid: Pid,
    /// umask.
    pub umask: u32,
    /// Exit status if exited.
    pub exit_status: Option<i32>,
}

/// Mutating operations (logged, applied on every replica).
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum WriteOp {
    /// Create a process with an empty address space and no descriptors; its
    /// cwd is the parent's (or `/`). Responds [`Resp::Pid`].
    Spawn {
        parent: Pid,
        exe: Vec<u8>,
    },
    /// Replace the address space by an empty one (exec); responds
    /// [`Resp::Frames`] with the released data frames.
    ResetVm {
        pid: Pid,
        exe: Vec<u8>,
    },
    /// Process exit: close every descriptor, drop the address space
    /// ([`Resp::Frames`]), keep a zombie with the status, make `SIGCHLD`
    /// pending for the parent.
    Exit {
        pid: Pid,
        status: i32,
    },
    /// Drop the address space of an exiting process ([`Resp::Frames`]), so
    /// its memory is free before the process becomes a zombie that the
    /// parent can reap.
    DropVm {
        pid: Pid,
    },
    /// Remove a zombie ([`Resp::Val`] = status).
    Reap {
        pid: Pid,
    },
    /// `openat` ([`Resp::Fd`]).
    Open {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
        flags: u32,
        mode: u32,
        now: Timespec,
    },
    /// Open generated read-only content ([`Resp::Fd`]).
    OpenBuffer {
        pid: Pid,
        data: Arc<[u8]>,
        flags: u32,
    },
    Close {
        pid: Pid,
        fd: i32,
    },
    /// `dup`/`F_DUPFD`: lowest free descriptor `>= min`.
    Dup {
        pid: Pid,
        fd: i32,
        min: i32,
        cloexec: bool,
    },
    /// `dup2`/`dup3` (`old != new` checked by the caller for dup3).
    Dup2 {
        pid: Pid,
        old: i32,
        new: i32,
        cloexec: bool,
    },
    /// `F_SETFD`.
    SetCloexec {
        pid: Pid,
        fd: i32,
        cloexec: bool,
    },
    /// `F_SETFL` (only `O_APPEND` and `O_NONBLOCK` change).
    SetStatusFlags {
        pid: Pid,
        fd: i32,
        flags: u32,
    },
    /// `lseek` ([`Resp::Val`] = new offset).
    Seek {
        pid: Pid,
        fd: i32,
        offset: i64,
        whence: u32,
    },
    /// `read`: move the offset by what is available ([`Resp::Read`]).
    ReadAdvance {
        pid: Pid,
        fd: i32,
        len: u64,
    },
    /// `write` at the offset (or the end with `O_APPEND`) ([`Resp::Val`]).
    Write {
        pid: Pid,
        fd: i32,
        data: Arc<Vec<u8>>,
        now: Timespec,
    },
    /// `pwrite64` ([`Resp::Val`]).
    WriteAt {
        pid: Pid,
        fd: i32,
        offset: u64,
        data: Arc<Vec<u8>>,
        now: Timespec,
    },
    /// `getdents64`: entries that fit in `bufsize` bytes ([`Resp::Dirents`]).
    Getdents {
        pid: Pid,
        fd: i32,
        bufsize: u64,
    },
    Mkdir {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
        mode: u32,
        now: Timespec,
    },
    Mknod {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
        mode: u32,
        rdev: u64,
        now: Timespec,
    },
    /// `unlinkat` (with `rmdir` for `AT_REMOVEDIR`).
    Unlink {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
        rmdir: bool,
        now: Timespec,
    },
    Rename {
        pid: Pid,
        olddirfd: i32,
        old: Vec<u8>,
        newdirfd: i32,
        new: Vec<u8>,
        now: Timespec,
    },
    Link {
        pid: Pid,
        olddirfd: i32,
        old: Vec<u8>,
        newdirfd: i32,
        new: Vec<u8>,
        now: Timespec,
    },
    Symlink {
        pid: Pid,
        target: Vec<u8>,
        dirfd: i32,
        path: Vec<u8>,
        now: Timespec,
    },
    Truncate {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
        len: u64,
        now: Timespec,
    },
    Ftruncate {
        pid: Pid,
        fd: i32,
        len: u64,
        now: Timespec,
    },
    Chdir {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
    },
    Fchdir {
        pid: Pid,
        fd: i32,
    },
    /// [`Resp::Val`] = previous mask.
    Umask {
        pid: Pid,
        mask: u32,
    },
    Chmod {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
        mode: u32,
        now: Timespec,
    },
    /// `utimensat`; an empty path means the descriptor `dirfd` itself.
    Utimens {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
        atime: Option<Timespec>,
        mtime: Option<Timespec>,
        follow: bool,
        now: Timespec,
    },
    /// `mmap` ([`Resp::Mapped`]: address and frames released by `MAP_FIXED`).
    Mmap {
        pid: Pid,
        at: MapAt,
        len: u64,
        prot: u32,
        kind: VmaKind,
    },
    /// [`Resp::Frames`].
    Munmap {
        pid: Pid,
        start: u64,
        len: u64,
    },
    Mprotect {
        pid: Pid,
        start: u64,
        len: u64,
        prot: u32,
    },
    /// `brk` ([`Resp::Mapped`]: new break and released frames).
    Brk {
        pid: Pid,
        addr: u64,
    },
    SetBrkStart {
        pid: Pid,
        addr: u64,
    },
    /// `madvise(MADV_DONTNEED)`: drop the frames of `[start, start+len)`
    /// while keeping the mappings, so pages read back as zeros (anonymous)
    /// or file content ([`Resp::Frames`]).
    Discard {
        pid: Pid,
        start: u64,
        len: u64,
    },
    /// Back pages with caller-allocated frames ([`Resp::Populated`]).
    Populate {
        pid: Pid,
        pages: Vec<(u64, u64)>,
    },
    /// `pipe2`: a pipe with its read and write ends ([`Resp::FdPair`]).
    Pipe {
        pid: Pid,
        flags: u32,
    },
    /// `fork`: a child with a copy of the descriptor table and an address
    /// space sharing every resident frame of the parent copy-on-write
    /// ([`Resp::Pid`]). The parent's leaves become read-only: the caller
    /// flushes the TLBs of the cores running the parent.
    Fork {
        parent: Pid,
    },
    /// The TLB flush after a [`WriteOp::Fork`] of `pid` finished: no core
    /// writes the shared frames any more, copy-on-write copies may be taken.
    ForkDone {
        pid: Pid,
    },
    /// Resolve a copy-on-write fault at `va` whose leaf shared frame `old`:
    /// with `new = Some(copy)` (the caller allocated it and copied `old`
    /// into it) the page gets the copy if `old` is still shared, or keeps
    /// `old` if no other address space uses it any more; with `new = None`
    /// only the latter is possible. [`Resp::Cow`] says which happened.
    ///
    /// `gen` is [`ReadOp::ForkGen`] read before the copy was taken: if a
    /// fork began since, or one is in flight, nothing changes
    /// ([`CowOutcome::Busy`]).
    Cow {
        pid: Pid,
        va: u64,
        old: u64,
        new: Option<u64>,
        gen: u64,
    },
    /// `wait4`: reap a zombie child matching `target` (-1: any, > 0: that
    /// pid, 0: the caller's group, < -1: group -target) ([`Resp::Waited`]
    /// with `None` if matching children exist but none has exited; `ECHILD`
    /// if none match).
    Wait {
        parent: Pid,
        target: i32,
    },
    /// `setpgid(target, pgid)` (0 means the caller / target's pid).
    Setpgid {
        pid: Pid,
        target: Pid,
        pgid: Pid,
    },
    /// `setsid` ([`Resp::Val`] = new session id).
    Setsid {
        pid: Pid,
    },
    /// `kill`: mark signal `sig` pending for `target` (> 0: a process, 0: the
    /// caller's group, -1: every process but 1, < -1: group -target);
    /// [`Resp::Pids`] lists the processes it reached.
    Signal {
        pid: Pid,
        target: i32,
        sig: u32,
    },
    /// Take (clear and return) the pending signals not blocked by `mask`
    /// ([`Resp::Val`]).
    TakeSignals {
        pid: Pid,
        tid: Pid,
        mask: u64,
    },
    /// `tgkill`/`tkill`: mark signal `sig` pending for thread `tid` only
    /// ([`Resp::Pid`] = its process; `ESRCH` for an unknown thread). Signal
    /// 0 only checks that the thread exists.
    SignalThread {
        tid: Pid,
        sig: u32,
    },
    /// A new thread in process `pid` ([`Resp::Pid`] = its thread id, from
    /// the process-id space).
    NewThread {
        pid: Pid,
    },
    /// Thread `tid` of `pid` ended ([`Resp::Val`] = threads left; at 0 the
    /// caller performs the process exit).
    ExitThread {
        pid: Pid,
        tid: Pid,
    },
    /// `exit_group` begins: other threads of `pid` must stop (`Pending`
    /// fails for them from now on). `ESRCH` if already exiting.
    BeginExit {
        pid: Pid,
    },
    /// Thread `tid` of `pid` is assigned to `core` with `affinity` (at
    /// creation, migration or `sched_setaffinity`). `ESRCH` if the process
    /// has exited.
    Place {
        pid: Pid,
        tid: Pid,
        core: u32,
        affinity: u64,
    },
    /// `sched_setaffinity` of thread `tid` (of any process); its core stays
    /// until the scheduler moves it. [`Resp::Pid`] = the owning process;
    /// `ESRCH` for an unknown thread.
    SetAffinity {
        tid: Pid,
        affinity: u64,
    },
}

/// Read-only operations (run on the local replica).
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum ReadOp {
    /// `fstatat` ([`Resp::Stat`]).
    Stat {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
        follow: bool,
    },
    Fstat {
        pid: Pid,
        fd: i32,
    },
    /// [`Resp::FdInfo`].
    FdInfo {
        pid: Pid,
        fd: i32,
    },
    /// File bytes ([`Resp::Bytes`]).
    ReadInode {
        ino: Ino,
        offset: u64,
        len: u64,
    },
    /// `pread64` on a descriptor ([`Resp::Bytes`]).
    ReadAt {
        pid: Pid,
        fd: i32,
        offset: u64,
        len: u64,
    },
    Readlink {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
    },
    /// Absolute path of the working directory ([`Resp::Bytes`]).
    Getcwd {
        pid: Pid,
    },
    /// Existence check for `access`/`faccessat` ([`Resp::Unit`]).
    Access {
        pid: Pid,
        dirfd: i32,
        path: Vec<u8>,
        follow: bool,
    },
    /// Page-table translation in this replica ([`Resp::Translation`]).
    Translate {
        pid: Pid,
        va: u64,
    },
    /// Page-fault decision ([`Resp::Fault`]).
    Fault {
        pid: Pid,
        va: u64,
        access: Access,
    },
    /// Physical address of this replica's page-table root ([`Resp::Val`]).
    Root {
        pid: Pid,
    },
    /// The process's fork generation ([`Resp::Val`]) for a copy-on-write
    /// copy about to be taken; `EAGAIN` while a fork is flushing TLBs (a
    /// copy taken now could miss a store through a stale translation).
    ForkGen {
        pid: Pid,
    },
    /// [`Resp::Proc`].
    Proc {
        pid: Pid,
    },
    /// Hash of the whole state ([`Resp::Val`]).
    Hash,
    /// Signals pending for thread `tid` of process `pid`: the process's and
    /// the thread's own ([`Resp::Val`]).
    Pending {
        pid: Pid,
        tid: Pid,
    },
    /// Owner and placement of thread `tid` ([`Resp::Placement`]; `ESRCH`
    /// if unknown).
    Placement {
        tid: Pid,
    },
    /// Every live thread's `(pid, tid, placement)` ([`Resp::Placements`]).
    Placements,
    /// Up to `limit` unpopulated pages of the shared anonymous mappings of
    /// `pid` ([`Resp::Pages`] with frame 0), to populate before `fork`.
    SharedHoles {
        pid: Pid,
        limit: usize,
    },
    /// Path of the executable of `pid` ([`Resp::Bytes`]).
    Exe {
        pid: Pid,
    },
    /// Whether `va` lies in a shared anonymous mapping of `pid`
    /// ([`Resp::Val`] 1 or 0).
    IsShared {
        pid: Pid,
        va: u64,
    },
    /// Open read and write ends of pipe `id` ([`Resp::FdPair`] as
    /// `(readers, writers)`; `ESRCH` once both are gone).
    PipeEnds {
        id: u64,
    },
}

/// Successful responses.
#[derive(Debug)]
#[allow(missing_docs)]
pub enum Resp {
    Unit,
    Val(u64),
    Fd(i32),
    Pid(Pid),
    Frames(Released),
    Mapped(u64, Released),
    Stat(Stat),
    Bytes(Vec<u8>),
    /// Entries with the cookie of the next entry (`d_off`).
    Dirents(Vec<(DirEntry, u64)>),
    Read(ReadPlan),
    FdInfo(FdInfo),
    Fault(FaultDecision),
    Translation(Option<(u64, PteFlags)>),
    Populated(Vec<KResult<Populated>>),
    Proc(ProcInfo),
    /// Two descriptors (read end, write end).
    FdPair(i32, i32),
    /// A reaped child and its wait status, if any.
    Waited(Option<(Pid, i32)>),
    /// Processes.
    Pids(Vec<Pid>),
    /// `(va, frame)` pairs.
    Pages(Vec<(u64, u64)>),
    /// A write fault on a copy-on-write page that shares `frame`; `shared`
    /// tells whether another address space still maps it (then the caller
    /// copies it before [`WriteOp::Cow`]).
    CowFault {
        frame: u64,
        shared: bool,
    },
    /// Outcome of [`WriteOp::Cow`].
    Cow(CowOutcome),
    /// A thread's owner and placement.
    Placement(Pid, Placement),
    /// `(pid, tid, placement)` of every live thread.
    Placements(Vec<(Pid, Pid, Placement)>),
}

/// Data frames an operation took out of address spaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Frames no address space maps any more, in address order: the caller
    /// frees them after the TLB shootdown.
    pub free: Vec<u64>,
    /// Pages whose leaves were removed (including those whose frames are
    /// still mapped elsewhere): if non-zero, TLBs must be flushed.
    pub unmapped: usize,
}

impl Released {
    fn all(frames: Vec<u64>) -> Self {
        Released {
            unmapped: frames.len(),
            free: frames,
        }
    }
}

/// What [`WriteOp::Cow`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CowOutcome {
    /// The page now maps the caller's copy; `old` lost a reference. Flush
    /// the TLBs of the cores running the address space.
    Copied,
    /// No other address space maps `old` any more: the page keeps it and
    /// became writable. The caller frees its copy, if any.
    InPlace,
    /// The leaf changed meanwhile (unmapped, already resolved, or a copy is
    /// needed but none was given): retry the access. The caller frees its
    /// copy, if any.
    Retry,
    /// A fork of the process is still flushing TLBs, or one began after the
    /// caller read [`ReadOp::ForkGen`] (see [`Process::forks_in_flight`]):
    /// nothing changed, retry shortly. The caller frees its copy, if any
    /// (it may miss a write made through a stale translation).
    Busy,
}

/// Length of a `linux_dirent64` record for a name of `len` bytes.
pub fn dirent64_len(len: usize) -> u64 {
    ((19 + len + 1 + 7) & !7) as u64
}

struct Hasher(u64);

impl Hasher {
    fn new() -> Self {
        Hasher(0xcbf2_9ce4_8422_2325)
    }
    fn u64(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        for &b in v {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

impl<M: FrameMemory + Clone> KernelState<M> {
    /// A replica holding `fs`, allocating page tables from `mem`; every new
    /// page-table root gets `kernel_entries` in its upper half.
    pub fn new(fs: Fs, mem: M, kernel_entries: Option<[u64; 256]>) -> Self {
        KernelState {
            fs,
            procs: BTreeMap::new(),
            files: BTreeMap::new(),
            next_pid: 1,
            next_file: 1,
            pipes: BTreeMap::new(),
            next_pipe: 1,
            mem,
            kernel_entries: kernel_entries.map(alloc::boxed::Box::new),
            locality: None,
            shared: BTreeMap::new(),
        }
    }

    /// Install the allocation-locality hooks (see [`Locality`]).
    pub fn set_locality(&mut self, l: Locality) {
        self.locality = Some(l);
    }

    /// The file system.
    pub fn fs(&self) -> &Fs {
        &self.fs
    }

    /// A process.
    pub fn process(&self, pid: Pid) -> Option<&Process<M>> {
        self.procs.get(&pid)
    }

    /// Extra references (beyond one) to data frame `frame`: non-zero while
    /// it is shared copy-on-write by several address spaces.
    pub fn extra_refs(&self, frame: u64) -> u32 {
        self.shared.get(&frame).copied().unwrap_or(0)
    }

    /// Number of processes (including zombies).
    pub fn process_count(&self) -> usize {
        self.procs.len()
    }

    /// Hash of the whole state.
    pub fn state_hash(&self) -> u64 {
        let mut h = Hasher::new();
        h.u64(self.fs.state_hash());
        h.u64(u64::from(self.next_pid));
        h.u64(self.next_file);
        for (pid, p) in &self.procs {
            h.u64(u64::from(*pid));
            h.u64(u64::from(p.ppid));
            h.u64(u64::from(p.pgid));
            h.u64(u64::from(p.sid));
            h.u64(p.cwd);
            h.u64(u64::from(p.umask));
            h.bytes(&p.exe);
            h.u64(p.exit_status.map_or(u64::MAX, |s| s as u32 as u64));
            h.u64(p.pending);
            h.u64(u64::from(p.threads));
            h.u64(u64::from(p.exiting));
            h.u64(u64::from(p.forks_in_flight));
            h.u64(p.fork_gen);
            for (tid, s) in &p.thread_pending {
                h.u64(u64::from(*tid));
                h.u64(*s);
            }
            for (tid, pl) in &p.placement {
                h.u64(u64::from(*tid));
                h.u64(u64::from(pl.core));
                h.u64(pl.affinity);
            }
            for (fd, e) in &p.fds {
                h.u64(*fd as u64);
                h.u64(e.file);
                h.u64(u64::from(e.cloexec));
            }
            h.u64(p.vm.as_ref().map_or(0, |vm| vm.state_hash()));
        }
        for (f, extra) in &self.shared {
            h.u64(*f);
            h.u64(u64::from(*extra));
        }
        h.u64(self.next_pipe);
        for (id, p) in &self.pipes {
            h.u64(*id);
            h.u64(u64::from(p.readers));
            h.u64(u64::from(p.writers));
            h.u64(p.buf.len() as u64);
            for &b in &p.buf {
                h.u64(u64::from(b));
            }
        }
        for (id, f) in &self.files {
            h.u64(*id);
            match &f.obj {
                FileObj::Inode(ino) => h.u64(*ino),
                FileObj::Buffer(b) => h.bytes(b),
                FileObj::Pipe { id, write } => {
                    h.u64(*id);
                    h.u64(u64::from(*write));
                }
            }
            h.u64(f.offset);
            h.u64(u64::from(f.flags));
            h.u64(u64::from(f.refs));
        }
        h.0
    }

    fn proc(&self, pid: Pid) -> KResult<&Process<M>> {
        match self.procs.get(&pid) {
            Some(p) if p.exit_status.is_none() => Ok(p),
            _ => Err(Errno::ESRCH),
        }
    }

    fn proc_mut(&mut self, pid: Pid) -> KResult<&mut Process<M>> {
        match self.procs.get_mut(&pid) {
            Some(p) if p.exit_status.is_none() => Ok(p),
            _ => Err(Errno::ESRCH),
        }
    }

    fn vm(&self, pid: Pid) -> KResult<&AddressSpace<M>> {
        self.proc(pid)?.vm.as_ref().ok_or(Errno::ESRCH)
    }

    fn vm_mut(&mut self, pid: Pid) -> KResult<&mut AddressSpace<M>> {
        self.proc_mut(pid)?.vm.as_mut().ok_or(Errno::ESRCH)
    }

    fn fd_entry(&self, pid: Pid, fd: i32) -> KResult<FdEntry> {
        self.proc(pid)?.fds.get(&fd).copied().ok_or(Errno::EBADF)
    }

    fn file(&self, pid: Pid, fd: i32) -> KResult<(FileId, &OpenFile)> {
        let e = self.fd_entry(pid, fd)?;
        self.files
            .get(&e.file)
            .map(|f| (e.file, f))
            .ok_or(Errno::EBADF)
    }

    /// Starting directory for a path relative to `dirfd`.
    fn start_dir(&self, pid: Pid, dirfd: i32, path: &[u8]) -> KResult<Ino> {
        let p = self.proc(pid)?;
        if path.first() == Some(&b'/') {
            return Ok(Fs::ROOT);
        }
        if dirfd == AT_FDCWD {
            return Ok(p.cwd);
        }
        let (_, f) = self.file(pid, dirfd)?;
        match f.obj {
            FileObj::Inode(ino)
                if self.fs.stat(ino)?.mode & abi::flags::S_IFMT == abi::flags::S_IFDIR =>
            {
                Ok(ino)
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The inode a descriptor refers to (`EBADF`/`EINVAL` otherwise).
    fn fd_inode(&self, pid: Pid, fd: i32) -> KResult<Ino> {
        match self.file(pid, fd)?.1.obj {
            FileObj::Inode(ino) => Ok(ino),
            FileObj::Buffer(_) | FileObj::Pipe { .. } => Err(Errno::EINVAL),
        }
    }

    fn alloc_fd(&self, pid: Pid, min: i32) -> KResult<i32> {
        let p = self.proc(pid)?;
        let mut fd = min.max(0);
        for (&used, _) in p.fds.range(fd..) {
            if used != fd {
                break;
            }
            fd += 1;
        }
        if fd >= MAX_FDS {
            Err(Errno::EMFILE)
        } else {
            Ok(fd)
        }
    }

    fn install(&mut self, pid: Pid, fd: i32, file: FileId, cloexec: bool) -> KResult<()> {
        if let Some(f) = self.files.get_mut(&file) {
            f.refs += 1;
        }
        let old = self
            .proc_mut(pid)?
            .fds
            .insert(fd, FdEntry { file, cloexec });
        if let Some(old) = old {
            self.release_file(old.file);
        }
        Ok(())
    }

    fn new_file(&mut self, obj: FileObj, flags: u32) -> FileId {
        let id = self.next_file;
        self.next_file += 1;
        if let FileObj::Inode(ino) = obj {
            self.fs.pin(ino);
        }
        self.files.insert(
            id,
            OpenFile {
                obj,
                offset: 0,
                flags,
                refs: 0,
            },
        );
        id
    }

    fn release_file(&mut self, id: FileId) {
        let gone = match self.files.get_mut(&id) {
            Some(f) => {
                f.refs = f.refs.saturating_sub(1);
                f.refs == 0
            }
            None => false,
        };
        if gone {
            match self.files.remove(&id).map(|f| f.obj) {
                Some(FileObj::Inode(ino)) => self.fs.unpin(ino),
                Some(FileObj::Pipe { id, write }) => {
                    let empty = match self.pipes.get_mut(&id) {
                        Some(p) => {
                            if write {
                                p.writers = p.writers.saturating_sub(1);
                            } else {
                                p.readers = p.readers.saturating_sub(1);
                            }
                            p.readers == 0 && p.writers == 0
                        }
                        None => false,
                    };
                    if empty {
                        self.pipes.remove(&id);
                    }
                }
                _ => {}
            }
        }
    }

    fn close_all(&mut self, pid: Pid, only_cloexec: bool) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let fds: Vec<(i32, FdEntry)> = p
            .fds
            .iter()
            .filter(|(_, e)| !only_cloexec || e.cloexec)
            .map(|(k, v)| (*k, *v))
            .collect();
        for (fd, e) in fds {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.fds.remove(&fd);
            }
            self.release_file(e.file);
        }
    }

    /// `EAGAIN` if [`MAX_TASKS`] threads are alive.
    fn task_room(&self) -> KResult<()> {
        let live: u32 = self
            .procs
            .values()
            .filter(|p| p.exit_status.is_none())
            .map(|p| p.threads)
            .sum();
        if live >= MAX_TASKS {
            Err(Errno::EAGAIN)
        } else {
            Ok(())
        }
    }

    /// The live process owning thread `tid`.
    fn owner(&self, tid: Pid) -> KResult<Pid> {
        if let Some(p) = self.procs.get(&tid) {
            if p.exit_status.is_none() && (p.placement.contains_key(&tid) || p.placement.is_empty())
            {
                return Ok(tid);
            }
        }
        self.procs
            .values()
            .find(|p| p.exit_status.is_none() && p.placement.contains_key(&tid))
            .map(|p| p.pid)
            .ok_or(Errno::ESRCH)
    }

    /// Drops one reference to each released frame: only frames no address
    /// space maps any more are left for the caller to free.
    fn unref(&mut self, r: KResult<Resp>) -> KResult<Resp> {
        let drop = |shared: &mut BTreeMap<u64, u32>, rel: &mut Released| {
            rel.free.retain(|f| match shared.get_mut(f) {
                Some(extra) => {
                    *extra -= 1;
                    if *extra == 0 {
                        shared.remove(f);
                    }
                    false
                }
                None => true,
            });
        };
        match r {
            Ok(Resp::Frames(mut rel)) => {
                drop(&mut self.shared, &mut rel);
                Ok(Resp::Frames(rel))
            }
            Ok(Resp::Mapped(a, mut rel)) => {
                drop(&mut self.shared, &mut rel);
                Ok(Resp::Mapped(a, rel))
            }
            other => other,
        }
    }

    fn new_vm(&self) -> KResult<AddressSpace<M>> {
        let mut vm = AddressSpace::new(self.mem.clone()).ok_or(Errno::ENOMEM)?;
        if let Some(k) = &self.kernel_entries {
            vm.set_kernel_entries(k);
        }
        Ok(vm)
    }

    fn is_dir(&self, ino: Ino) -> bool {
        self.fs
            .stat(ino)
            .is_ok_and(|s| s.mode & abi::flags::S_IFMT == abi::flags::S_IFDIR)
    }

    fn apply(&mut self, op: WriteOp) -> KResult<Resp> {
        use WriteOp as W;
        match op {
            W::Spawn { parent, exe } => {
                self.task_room()?;
                let (cwd, umask, pgid, sid) = match self.procs.get(&parent) {
                    Some(p) => (p.cwd, p.umask, p.pgid, p.sid),
                    None => (Fs::ROOT, 0o022, 0, 0),
                };
                let vm = self.new_vm()?;
                let pid = self.next_pid;
                self.next_pid += 1;
                let (pgid, sid) = if parent == 0 { (pid, pid) } else { (pgid, sid) };
                // The working directory stays usable (statable) even if removed.
                self.fs.pin(cwd);
                self.procs.insert(
                    pid,
                    Process::new(
                        (pid, parent, pgid, sid),
                        cwd,
                        umask,
                        BTreeMap::new(),
                        vm,
                        exe,
                    ),
                );
                Ok(Resp::Pid(pid))
            }
            W::ResetVm { pid, exe } => {
                self.proc(pid)?;
                let fresh = self.new_vm()?;
                let p = self.proc_mut(pid)?;
                p.exe = exe;
                let old = p.vm.replace(fresh);
                self.close_all(pid, true);
                Ok(Resp::Frames(Released::all(
                    old.map(|vm| vm.destroy().1).unwrap_or_default(),
                )))
            }
            W::Exit { pid, status } => {
                let p = self.proc_mut(pid)?;
                p.exit_status = Some(status);
                p.threads = 0;
                p.placement.clear();
                p.thread_pending.clear();
                let ppid = p.ppid;
                let vm = p.vm.take();
                let cwd = p.cwd;
                self.fs.unpin(cwd);
                // SIGCHLD to the parent.
                if let Ok(parent) = self.proc_mut(ppid) {
                    parent.pending |= 1u64 << (abi::flags::SIGCHLD - 1);
                }
                // Orphans go to process 1.
                if pid != 1 {
                    for c in self.procs.values_mut().filter(|c| c.ppid == pid) {
                        c.ppid = 1;
                    }
                }
                self.close_all(pid, false);
                Ok(Resp::Frames(Released::all(
                    vm.map(|vm| vm.destroy().1).unwrap_or_default(),
                )))
            }
            W::DropVm { pid } => {
                let vm = self.proc_mut(pid)?.vm.take();
                Ok(Resp::Frames(Released::all(
                    vm.map(|vm| vm.destroy().1).unwrap_or_default(),
                )))
            }
            W::Reap { pid } => match self.procs.get(&pid).and_then(|p| p.exit_status) {
                Some(s) => {
                    self.procs.remove(&pid);
                    Ok(Resp::Val(s as u32 as u64))
                }
                None => Err(Errno::ECHILD),
            },
            W::Open {
                pid,
                dirfd,
                path,
                flags,
                mode,
                now,
            } => {
                let dir = self.start_dir(pid, dirfd, &path)?;
                let umask = self.proc(pid)?.umask;
                let fd = self.alloc_fd(pid, 0)?;
                let ino = self.fs.open(dir, &path, flags, mode, umask, now)?;
                let keep = if flags & O_PATH != 0 {
                    O_PATH
                } else {
                    O_ACCMODE | O_APPEND | O_NONBLOCK
                };
                let id = self.new_file(FileObj::Inode(ino), flags & keep);
                self.install(pid, fd, id, flags & O_CLOEXEC != 0)?;
                Ok(Resp::Fd(fd))
            }
            W::OpenBuffer { pid, data, flags } => {
                let fd = self.alloc_fd(pid, 0)?;
                let id = self.new_file(FileObj::Buffer(data), O_RDONLY);
                self.install(pid, fd, id, flags & O_CLOEXEC != 0)?;
                Ok(Resp::Fd(fd))
            }
            W::Close { pid, fd } => {
                let e = self.proc_mut(pid)?.fds.remove(&fd).ok_or(Errno::EBADF)?;
                self.release_file(e.file);
                Ok(Resp::Unit)
            }
            W::Dup {
                pid,
                fd,
                min,
                cloexec,
            } => {
                let e = self.fd_entry(pid, fd)?;
                if !(0..MAX_FDS).contains(&min) {
                    return Err(Errno::EINVAL);
                }
                let new = self.alloc_fd(pid, min)?;
                self.install(pid, new, e.file, cloexec)?;
                Ok(Resp::Fd(new))
            }
            W::Dup2 {
                pid,
                old,
                new,
                cloexec,
            } => {
                let e = self.fd_entry(pid, old)?;
                if !(0..MAX_FDS).contains(&new) {
                    return Err(Errno::EBADF);
                }
                if old == new {
                    return Ok(Resp::Fd(new));
                }
                self.install(pid, new, e.file, cloexec)?;
                Ok(Resp::Fd(new))
            }
            W::SetCloexec { pid, fd, cloexec } => {
                let e = self.proc_mut(pid)?.fds.get_mut(&fd).ok_or(Errno::EBADF)?;
                e.cloexec = cloexec;
                Ok(Resp::Unit)
            }
            W::SetStatusFlags { pid, fd, flags } => {
                let (id, f) = self.file(pid, fd)?;
                if f.flags & O_PATH != 0 {
                    return Err(Errno::EBADF);
                }
                let f = self.files.get_mut(&id).ok_or(Errno::EBADF)?;
                let changeable = O_APPEND | O_NONBLOCK;
                f.flags = (f.flags & !changeable) | (flags & changeable);
                Ok(Resp::Unit)
            }
            W::Seek {
                pid,
                fd,
                offset,
                whence,
            } => {
                let (id, f) = self.file(pid, fd)?;
                if f.flags & O_PATH != 0 {
                    return Err(Errno::EBADF);
                }
                let (size, is_dir) = match &f.obj {
                    FileObj::Pipe { .. } => return Err(Errno::ESPIPE),
                    FileObj::Buffer(b) => (b.len() as u64, false),
                    FileObj::Inode(ino) => {
                        let st = self.fs.stat(*ino)?;
                        match st.mode & abi::flags::S_IFMT {
                            abi::flags::S_IFCHR => {
                                return if st.rdev == dev::CONSOLE || st.rdev == dev::TTY {
                                    Err(Errno::ESPIPE)
                                } else {
                                    Ok(Resp::Val(0))
                                };
                            }
                            abi::flags::S_IFDIR => (0, true),
                            _ => (st.size, false),
                        }
                    }
                };
                let base: i128 = match whence {
                    0 => 0,
                    1 => i128::from(f.offset),
                    2 if !is_dir => i128::from(size),
                    _ => return Err(Errno::EINVAL),
                };
                let new = base + i128::from(offset);
                if new < 0 || new > i128::from(i64::MAX) {
                    return Err(Errno::EINVAL);
                }
                let f = self.files.get_mut(&id).ok_or(Errno::EBADF)?;
                f.offset = new as u64;
                Ok(Resp::Val(new as u64))
            }
            W::ReadAdvance { pid, fd, len } => {
                let (id, f) = self.file(pid, fd)?;
                if !can_read(f.flags) {
                    return Err(Errno::EBADF);
                }
                let len = len.min(MAX_IO);
                let offset = f.offset;
                let (plan, advance) = match &f.obj {
                    &FileObj::Pipe { id, .. } => {
                        let p = self.pipes.get_mut(&id).ok_or(Errno::EBADF)?;
                        if p.buf.is_empty() {
                            // Empty: end of file without writers, else wait.
                            return if p.writers == 0 {
                                Ok(Resp::Read(ReadPlan::Bytes(Vec::new())))
                            } else {
                                Err(Errno::EAGAIN)
                            };
                        }
                        let n = (len as usize).min(p.buf.len());
                        return Ok(Resp::Read(ReadPlan::Bytes(p.buf.drain(..n).collect())));
                    }
                    FileObj::Buffer(b) => {
                        let start = (offset as usize).min(b.len());
                        let end = start.saturating_add(len as usize).min(b.len());
                        (
                            ReadPlan::Bytes(b[start..end].to_vec()),
                            (end - start) as u64,
                        )
                    }
                    FileObj::Inode(ino) => {
                        let st = self.fs.stat(*ino)?;
                        match st.mode & abi::flags::S_IFMT {
                            abi::flags::S_IFDIR => return Err(Errno::EISDIR),
                            abi::flags::S_IFCHR => {
                                return Ok(Resp::Read(ReadPlan::Device { rdev: st.rdev }))
                            }
                            abi::flags::S_IFREG => {
                                let n = st.size.saturating_sub(offset).min(len);
                                (
                                    ReadPlan::Inode {
                                        ino: *ino,
                                        offset,
                                        n,
                                    },
                                    n,
                                )
                            }
                            _ => return Err(Errno::EINVAL),
                        }
                    }
                };
                self.files.get_mut(&id).ok_or(Errno::EBADF)?.offset = offset + advance;
                Ok(Resp::Read(plan))
            }
            W::Write { pid, fd, data, now } => {
                let (id, f) = self.file(pid, fd)?;
                if let FileObj::Pipe { id: pipe, write } = f.obj {
                    if !write || !can_write(f.flags) {
                        return Err(Errno::EBADF);
                    }
                    let p = self.pipes.get_mut(&pipe).ok_or(Errno::EBADF)?;
                    if p.readers == 0 {
                        return Err(Errno::EPIPE);
                    }
                    let room = PIPE_CAPACITY - p.buf.len();
                    // Writes of up to PIPE_BUF (4096) bytes are atomic.
                    if room == 0 || (data.len() <= 4096 && room < data.len()) {
                        return Err(Errno::EAGAIN);
                    }
                    let n = room.min(data.len());
                    p.buf.extend(&data[..n]);
                    return Ok(Resp::Val(n as u64));
                }
                let ino = self.writable_inode(f)?;
                let offset = if f.flags & O_APPEND != 0 {
                    self.fs.stat(ino)?.size
                } else {
                    f.offset
                };
                let n = self.fs.write(ino, offset, &data, now)?;
                self.files.get_mut(&id).ok_or(Errno::EBADF)?.offset = offset + n as u64;
                Ok(Resp::Val(n as u64))
            }
            W::WriteAt {
                pid,
                fd,
                offset,
                data,
                now,
            } => {
                let (_, f) = self.file(pid, fd)?;
                let ino = self.writable_inode(f)?;
                if offset > i64::MAX as u64 {
                    return Err(Errno::EINVAL);
                }
                // Linux: with O_APPEND, pwrite appends whatever the offset.
                let offset = if f.flags & O_APPEND != 0 {
                    self.fs.stat(ino)?.size
                } else {
                    offset
                };
                let n = self.fs.write(ino, offset, &data, now)?;
                Ok(Resp::Val(n as u64))
            }
            W::Getdents { pid, fd, bufsize } => {
                let (id, f) = self.file(pid, fd)?;
                if f.flags & O_PATH != 0 {
                    return Err(Errno::EBADF);
                }
                let FileObj::Inode(ino) = f.obj else {
                    return Err(Errno::ENOTDIR);
                };
                if !self.is_dir(ino) {
                    return Err(Errno::ENOTDIR);
                }
                let mut cookie = f.offset;
                let mut used = 0u64;
                let mut out = Vec::new();
                let max = (bufsize / 24).clamp(1, 4096) as usize;
                for (e, next) in self.fs.readdir_with_cookies(ino, cookie, max)? {
                    let len = dirent64_len(e.name.len());
                    if used + len > bufsize {
                        if out.is_empty() {
                            return Err(Errno::EINVAL);
                        }
                        break;
                    }
                    used += len;
                    out.push((e, next));
                    cookie = next;
                }
                self.files.get_mut(&id).ok_or(Errno::EBADF)?.offset = cookie;
                Ok(Resp::Dirents(out))
            }
            W::Mkdir {
                pid,
                dirfd,
                path,
                mode,
                now,
            } => {
                let dir = self.start_dir(pid, dirfd, &path)?;
                let umask = self.proc(pid)?.umask;
                self.fs.mkdir(dir, &path, mode, umask, now)?;
                Ok(Resp::Unit)
            }
            W::Mknod {
                pid,
                dirfd,
                path,
                mode,
                rdev,
                now,
            } => {
                let dir = self.start_dir(pid, dirfd, &path)?;
                let umask = self.proc(pid)?.umask;
                self.fs.mknod(dir, &path, mode, rdev, umask, now)?;
                Ok(Resp::Unit)
            }
            W::Unlink {
                pid,
                dirfd,
                path,
                rmdir,
                now,
            } => {
                let dir = self.start_dir(pid, dirfd, &path)?;
                if rmdir {
                    self.fs.rmdir(dir, &path, now)?;
                } else {
                    self.fs.unlink(dir, &path, now)?;
                }
                Ok(Resp::Unit)
            }
            W::Rename {
                pid,
                olddirfd,
                old,
                newdirfd,
                new,
                now,
            } => {
                let od = self.start_dir(pid, olddirfd, &old)?;
                let nd = self.start_dir(pid, newdirfd, &new)?;
                self.fs.rename(od, &old, nd, &new, now)?;
                Ok(Resp::Unit)
            }
            W::Link {
                pid,
                olddirfd,
                old,
                newdirfd,
                new,
                now,
            } => {
                let od = self.start_dir(pid, olddirfd, &old)?;
                let nd = self.start_dir(pid, newdirfd, &new)?;
                self.fs.link(od, &old, nd, &new, now)?;
                Ok(Resp::Unit)
            }
            W::Symlink {
                pid,
                target,
                dirfd,
                path,
                now,
            } => {
                let dir = self.start_dir(pid, dirfd, &path)?;
                self.fs.symlink(&target, dir, &path, now)?;
                Ok(Resp::Unit)
            }
            W::Truncate {
                pid,
                dirfd,
                path,
                len,
                now,
            } => {
                let dir = self.start_dir(pid, dirfd, &path)?;
                let ino = self.fs.lookup(dir, &path, true)?;
                if len > i64::MAX as u64 {
                    return Err(Errno::EINVAL);
                }
                self.fs.truncate(ino, len, now)?;
                Ok(Resp::Unit)
            }
            W::Ftruncate { pid, fd, len, now } => {
                let (_, f) = self.file(pid, fd)?;
                if f.flags & O_PATH != 0 {
                    return Err(Errno::EBADF);
                }
                let FileObj::Inode(ino) = f.obj else {
                    return Err(Errno::EINVAL);
                };
                if !can_write(f.flags) || len > i64::MAX as u64 {
                    return Err(Errno::EINVAL);
                }
                if self.fs.stat(ino)?.mode & abi::flags::S_IFMT != abi::flags::S_IFREG {
                    return Err(Errno::EINVAL);
                }
                self.fs.truncate(ino, len, now)?;
                Ok(Resp::Unit)
            }
            W::Chdir { pid, dirfd, path } => {
                let dir = self.start_dir(pid, dirfd, &path)?;
                let ino = self.fs.lookup(dir, &path, true)?;
                if !self.is_dir(ino) {
                    return Err(Errno::ENOTDIR);
                }
                self.set_cwd(pid, ino)
            }
            W::Fchdir { pid, fd } => {
                let ino = self.fd_inode(pid, fd).map_err(|e| {
                    if e == Errno::EINVAL {
                        Errno::ENOTDIR
                    } else {
                        e
                    }
                })?;
                if !self.is_dir(ino) {
                    return Err(Errno::ENOTDIR);
                }
                self.set_cwd(pid, ino)
            }
            W::Umask { pid, mask } => {
                let p = self.proc_mut(pid)?;
                let old = p.umask;
                p.umask = mask & 0o777;
                Ok(Resp::Val(u64::from(old)))
            }
            W::Chmod {
                pid,
                dirfd,
                path,
                mode,
                now,
            } => {
                let ino = if path.is_empty() {
                    self.fd_inode(pid, dirfd)?
                } else {
                    let dir = self.start_dir(pid, dirfd, &path)?;
                    self.fs.lookup(dir, &path, true)?
                };
                self.fs.chmod(ino, mode, now)?;
                Ok(Resp::Unit)
            }
            W::Utimens {
                pid,
                dirfd,
                path,
                atime,
                mtime,
                follow,
                now,
            } => {
                let ino = if path.is_empty() {
                    self.fd_inode(pid, dirfd)?
                } else {
                    let dir = self.start_dir(pid, dirfd, &path)?;
                    self.fs.lookup(dir, &path, follow)?
                };
                self.fs.set_times(ino, atime, mtime, now)?;
                Ok(Resp::Unit)
            }
            W::Mmap {
                pid,
                at,
                len,
                prot,
                kind,
            } => {
                let (addr, frames) = self.vm_mut(pid)?.map(at, len, prot, kind)?;
                Ok(Resp::Mapped(addr, Released::all(frames)))
            }
            W::Munmap { pid, start, len } => Ok(Resp::Frames(Released::all(
                self.vm_mut(pid)?.unmap(start, len)?,
            ))),
            W::Mprotect {
                pid,
                start,
                len,
                prot,
            } => {
                self.vm_mut(pid)?.protect(start, len, prot)?;
                Ok(Resp::Unit)
            }
            W::Brk { pid, addr } => {
                let (cur, frames) = self.vm_mut(pid)?.brk(addr);
                Ok(Resp::Mapped(cur, Released::all(frames)))
            }
            W::SetBrkStart { pid, addr } => {
                self.vm_mut(pid)?.set_brk_start(addr)?;
                Ok(Resp::Unit)
            }
            W::Cow {
                pid,
                va,
                old,
                new,
                gen,
            } => {
                let p = self.proc(pid)?;
                if p.forks_in_flight > 0 || p.fork_gen != gen {
                    return Ok(Resp::Cow(CowOutcome::Busy));
                }
                let vm = self.vm_mut(pid)?;
                if vm.cow_frame(va) != Some(old) {
                    return Ok(Resp::Cow(CowOutcome::Retry));
                }
                match self.shared.get_mut(&old) {
                    None => {
                        self.vm_mut(pid)?.make_private(va, old)?;
                        Ok(Resp::Cow(CowOutcome::InPlace))
                    }
                    Some(_) if new.is_none() => Ok(Resp::Cow(CowOutcome::Retry)),
                    Some(extra) => {
                        let new = new.unwrap_or(old);
                        *extra -= 1;
                        if *extra == 0 {
                            self.shared.remove(&old);
                        }
                        if let Err(e) = self.vm_mut(pid)?.make_private(va, new) {
                            // Cannot happen (the leaf was checked above);
                            // keep the reference count exact regardless.
                            *self.shared.entry(old).or_insert(0) += 1;
                            return Err(e);
                        }
                        Ok(Resp::Cow(CowOutcome::Copied))
                    }
                }
            }
            W::Discard { pid, start, len } => Ok(Resp::Frames(Released::all(
                self.vm_mut(pid)?.discard(start, len)?,
            ))),
            W::Pipe { pid, flags } => {
                let r = self.alloc_fd(pid, 0)?;
                let id = self.next_pipe;
                self.next_pipe += 1;
                self.pipes.insert(
                    id,
                    Pipe {
                        buf: Default::default(),
                        readers: 1,
                        writers: 1,
                    },
                );
                let status = flags & O_NONBLOCK;
                let rf = self.new_file(FileObj::Pipe { id, write: false }, O_RDONLY | status);
                self.install(pid, r, rf, flags & O_CLOEXEC != 0)?;
                let w = match self.alloc_fd(pid, 0) {
                    Ok(w) => w,
                    Err(e) => {
                        self.proc_mut(pid)?.fds.remove(&r);
                        self.release_file(rf);
                        return Err(e);
                    }
                };
                let wf = self.new_file(
                    FileObj::Pipe { id, write: true },
                    abi::flags::O_WRONLY | status,
                );
                self.install(pid, w, wf, flags & O_CLOEXEC != 0)?;
                Ok(Resp::FdPair(r, w))
            }
            W::Fork { parent } => {
                self.proc(parent)?;
                self.task_room()?;
                let mem = self.mem.clone();
                let (mut vm, shared) = self.vm_mut(parent)?.fork_cow(mem)?;
                for f in shared {
                    *self.shared.entry(f).or_insert(0) += 1;
                }
                if let Some(k) = &self.kernel_entries {
                    vm.set_kernel_entries(k);
                }
                let p = self.proc_mut(parent)?;
                p.forks_in_flight += 1;
                p.fork_gen += 1;
                let (cwd, umask, pgid, sid, exe, fds) =
                    (p.cwd, p.umask, p.pgid, p.sid, p.exe.clone(), p.fds.clone());
                let pid = self.next_pid;
                self.next_pid += 1;
                for e in fds.values() {
                    if let Some(f) = self.files.get_mut(&e.file) {
                        f.refs += 1;
                    }
                }
                self.fs.pin(cwd);
                self.procs.insert(
                    pid,
                    Process::new((pid, parent, pgid, sid), cwd, umask, fds, vm, exe),
                );
                Ok(Resp::Pid(pid))
            }
            W::ForkDone { pid } => {
                let p = self.proc_mut(pid)?;
                p.forks_in_flight = p.forks_in_flight.saturating_sub(1);
                Ok(Resp::Unit)
            }
            W::Wait { parent, target } => {
                let pgid = self.proc(parent)?.pgid;
                let matches = |c: &Process<M>| {
                    c.ppid == parent
                        && match target {
                            -1 => true,
                            0 => c.pgid == pgid,
                            t if t > 0 => c.pid == t as Pid,
                            t => c.pgid == t.unsigned_abs(),
                        }
                };
                let mut any = false;
                let mut found = None;
                for c in self.procs.values() {
                    if matches(c) {
                        any = true;
                        if let Some(st) = c.exit_status {
                            found = Some((c.pid, st));
                            break;
                        }
                    }
                }
                if !any {
                    return Err(Errno::ECHILD);
                }
                if let Some((pid, _)) = found {
                    self.procs.remove(&pid);
                }
                Ok(Resp::Waited(found))
            }
            W::Setpgid { pid, target, pgid } => {
                let target = if target == 0 { pid } else { target };
                let me_sid = self.proc(pid)?.sid;
                let t = self.proc(target)?;
                if target != pid && t.ppid != pid {
                    return Err(Errno::ESRCH);
                }
                if t.sid != me_sid || t.pid == t.sid {
                    return Err(Errno::EPERM);
                }
                let pgid = if pgid == 0 { target } else { pgid };
                if pgid != target
                    && !self
                        .procs
                        .values()
                        .any(|p| p.pgid == pgid && p.sid == me_sid && p.exit_status.is_none())
                {
                    return Err(Errno::EPERM);
                }
                self.proc_mut(target)?.pgid = pgid;
                Ok(Resp::Unit)
            }
            W::Setsid { pid } => {
                // A process-group leader cannot start a session (EPERM), as
                // on Linux; nor can any process whose pid is some group's id.
                if self
                    .procs
                    .values()
                    .any(|p| p.pgid == pid && p.exit_status.is_none())
                {
                    return Err(Errno::EPERM);
                }
                let p = self.proc_mut(pid)?;
                p.sid = pid;
                p.pgid = pid;
                Ok(Resp::Val(u64::from(pid)))
            }
            W::Signal { pid, target, sig } => {
                if sig > 64 {
                    return Err(Errno::EINVAL);
                }
                let my_pgid = self.proc(pid)?.pgid;
                let hit: Vec<Pid> = self
                    .procs
                    .values()
                    .filter(|p| p.exit_status.is_none())
                    .filter(|p| match target {
                        t if t > 0 => p.pid == t as Pid,
                        0 => p.pgid == my_pgid,
                        -1 => p.pid != 1 && p.pid != pid,
                        t => p.pgid == t.unsigned_abs(),
                    })
                    .map(|p| p.pid)
                    .collect();
                if hit.is_empty() {
                    return Err(Errno::ESRCH);
                }
                if sig != 0 {
                    for t in &hit {
                        if let Some(p) = self.procs.get_mut(t) {
                            p.pending |= 1u64 << (sig - 1);
                        }
                    }
                }
                Ok(Resp::Pids(hit))
            }
            W::NewThread { pid } => {
                self.proc(pid)?;
                self.task_room()?;
                let tid = self.next_pid;
                self.next_pid += 1;
                self.proc_mut(pid)?.threads += 1;
                Ok(Resp::Pid(tid))
            }
            W::BeginExit { pid } => {
                let p = self.proc_mut(pid)?;
                if p.exiting {
                    return Err(Errno::ESRCH);
                }
                p.exiting = true;
                Ok(Resp::Unit)
            }
            W::ExitThread { pid, tid } => {
                let p = self.proc_mut(pid)?;
                p.threads = p.threads.saturating_sub(1);
                p.placement.remove(&tid);
                p.thread_pending.remove(&tid);
                Ok(Resp::Val(u64::from(p.threads)))
            }
            W::Place {
                pid,
                tid,
                core,
                affinity,
            } => {
                let p = self.proc_mut(pid)?;
                if p.exit_status.is_some() {
                    return Err(Errno::ESRCH);
                }
                p.placement.insert(tid, Placement { core, affinity });
                Ok(Resp::Unit)
            }
            W::SetAffinity { tid, affinity } => {
                let pid = self.owner(tid)?;
                let p = self.proc_mut(pid)?;
                if let Some(pl) = p.placement.get_mut(&tid) {
                    pl.affinity = affinity;
                }
                Ok(Resp::Pid(pid))
            }
            W::TakeSignals { pid, tid, mask } => {
                let p = self.proc_mut(pid)?;
                let mut take = p.pending & !mask;
                p.pending &= !take;
                if let Some(t) = p.thread_pending.get_mut(&tid) {
                    let own = *t & !mask;
                    *t &= !own;
                    take |= own;
                    if *t == 0 {
                        p.thread_pending.remove(&tid);
                    }
                }
                Ok(Resp::Val(take))
            }
            W::SignalThread { tid, sig } => {
                if sig > 64 {
                    return Err(Errno::EINVAL);
                }
                let pid = self.owner(tid)?;
                let p = self.proc_mut(pid)?;
                if sig != 0 {
                    *p.thread_pending.entry(tid).or_insert(0) |= 1u64 << (sig - 1);
                }
                Ok(Resp::Pid(pid))
            }
            W::Populate { pid, pages } => {
                let vm = self.vm_mut(pid)?;
                Ok(Resp::Populated(
                    pages
                        .into_iter()
                        .map(|(va, frame)| vm.populate(va, frame))
                        .collect(),
                ))
            }
        }
    }

    fn set_cwd(&mut self, pid: Pid, ino: Ino) -> KResult<Resp> {
        let p = self.proc_mut(pid)?;
        let old = core::mem::replace(&mut p.cwd, ino);
        self.fs.pin(ino);
        self.fs.unpin(old);
        Ok(Resp::Unit)
    }

    fn writable_inode(&self, f: &OpenFile) -> KResult<Ino> {
        if !can_write(f.flags) {
            return Err(Errno::EBADF);
        }
        match f.obj {
            FileObj::Inode(ino) => {
                let st = self.fs.stat(ino)?;
                match st.mode & abi::flags::S_IFMT {
                    abi::flags::S_IFREG => Ok(ino),
                    abi::flags::S_IFDIR => Err(Errno::EISDIR),
                    _ => Err(Errno::EINVAL),
                }
            }
            FileObj::Buffer(_) | FileObj::Pipe { .. } => Err(Errno::EBADF),
        }
    }

    fn query(&self, op: ReadOp) -> KResult<Resp> {
        use ReadOp as R;
        match op {
            R::Stat {
                pid,
                dirfd,
                path,
                follow,
            } => {
                let ino = if path.is_empty() {
                    // AT_EMPTY_PATH: the descriptor itself.
                    if dirfd == AT_FDCWD {
                        self.proc(pid)?.cwd
                    } else {
                        return self.query(R::Fstat { pid, fd: dirfd });
                    }
                } else {
                    let dir = self.start_dir(pid, dirfd, &path)?;
                    self.fs.lookup(dir, &path, follow)?
                };
                Ok(Resp::Stat(self.fs.stat(ino)?))
            }
            R::Fstat { pid, fd } => {
                let (id, f) = self.file(pid, fd)?;
                match &f.obj {
                    FileObj::Pipe { id: pipe, .. } => Ok(Resp::Stat(Stat {
                        ino: 0x2_0000_0000 + pipe,
                        mode: abi::flags::S_IFIFO | 0o600,
                        nlink: 1,
                        uid: 0,
                        gid: 0,
                        size: 0,
                        blocks: 0,
                        blksize: 4096,
                        rdev: 0,
                        atime: Timespec::default(),
                        mtime: Timespec::default(),
                        ctime: Timespec::default(),
                    })),
                    FileObj::Inode(ino) => Ok(Resp::Stat(self.fs.stat(*ino)?)),
                    FileObj::Buffer(b) => Ok(Resp::Stat(Stat {
                        ino: 0x1_0000_0000 + id,
                        mode: abi::flags::S_IFREG | 0o444,
                        nlink: 1,
                        uid: 0,
                        gid: 0,
                        size: b.len() as u64,
                        blocks: 0,
                        blksize: 4096,
                        rdev: 0,
                        atime: Timespec::default(),
                        mtime: Timespec::default(),
                        ctime: Timespec::default(),
                    })),
                }
            }
            R::FdInfo { pid, fd } => {
                let e = self.fd_entry(pid, fd)?;
                let f = self.files.get(&e.file).ok_or(Errno::EBADF)?;
                let (kind, rdev, size) = match &f.obj {
                    FileObj::Inode(ino) => {
                        let st = self.fs.stat(*ino)?;
                        (Some(file_type(st.mode)), st.rdev, st.size)
                    }
                    FileObj::Buffer(b) => (None, 0, b.len() as u64),
                    FileObj::Pipe { id, .. } => (
                        Some(FileType::Fifo),
                        0,
                        self.pipes.get(id).map_or(0, |p| p.buf.len() as u64),
                    ),
                };
                let pipe_ends = match &f.obj {
                    FileObj::Pipe { id, .. } => self
                        .pipes
                        .get(id)
                        .map_or((0, 0), |p| (p.readers, p.writers)),
                    _ => (0, 0),
                };
                Ok(Resp::FdInfo(FdInfo {
                    obj: f.obj.clone(),
                    kind,
                    rdev,
                    flags: f.flags,
                    offset: f.offset,
                    cloexec: e.cloexec,
                    size,
                    pipe_ends,
                }))
            }
            R::ReadInode { ino, offset, len } => {
                Ok(Resp::Bytes(self.read_inode(ino, offset, len)?))
            }
            R::ReadAt {
                pid,
                fd,
                offset,
                len,
            } => {
                let (_, f) = self.file(pid, fd)?;
                if !can_read(f.flags) {
                    return Err(Errno::EBADF);
                }
                if offset > i64::MAX as u64 {
                    return Err(Errno::EINVAL);
                }
                match &f.obj {
                    FileObj::Pipe { .. } => Err(Errno::ESPIPE),
                    FileObj::Buffer(b) => {
                        let start = (offset.min(b.len() as u64)) as usize;
                        let end = (start as u64).saturating_add(len).min(b.len() as u64) as usize;
                        Ok(Resp::Bytes(b[start..end].to_vec()))
                    }
                    FileObj::Inode(ino) => {
                        let st = self.fs.stat(*ino)?;
                        match st.mode & abi::flags::S_IFMT {
                            abi::flags::S_IFDIR => Err(Errno::EISDIR),
                            abi::flags::S_IFREG => {
                                Ok(Resp::Bytes(self.read_inode(*ino, offset, len)?))
                            }
                            _ => Err(Errno::ESPIPE),
                        }
                    }
                }
            }
            R::Readlink { pid, dirfd, path } => {
                let dir = self.start_dir(pid, dirfd, &path)?;
                Ok(Resp::Bytes(self.fs.readlink(dir, &path)?))
            }
            R::Getcwd { pid } => {
                let cwd = self.proc(pid)?.cwd;
                self.fs.path_of(cwd).map(Resp::Bytes).ok_or(Errno::ENOENT)
            }
            R::Access {
                pid,
                dirfd,
                path,
                follow,
            } => {
                let dir = self.start_dir(pid, dirfd, &path)?;
                self.fs.lookup(dir, &path, follow)?;
                Ok(Resp::Unit)
            }
            R::Translate { pid, va } => Ok(Resp::Translation(self.vm(pid)?.translate(va))),
            R::Fault { pid, va, access } => match self.vm(pid)?.fault_decision(va, access) {
                FaultDecision::CopyOnWrite { frame } => Ok(Resp::CowFault {
                    frame,
                    shared: self.shared.contains_key(&frame),
                }),
                d => Ok(Resp::Fault(d)),
            },
            R::Placement { tid } => {
                let pid = self.owner(tid)?;
                let pl = self
                    .proc(pid)?
                    .placement
                    .get(&tid)
                    .copied()
                    .ok_or(Errno::ESRCH)?;
                Ok(Resp::Placement(pid, pl))
            }
            R::SharedHoles { pid, limit } => Ok(Resp::Pages(
                self.vm(pid)?
                    .unpopulated_shared(limit)
                    .into_iter()
                    .map(|va| (va, 0))
                    .collect(),
            )),
            R::PipeEnds { id } => {
                let p = self.pipes.get(&id).ok_or(Errno::ESRCH)?;
                Ok(Resp::FdPair(p.readers as i32, p.writers as i32))
            }
            R::Exe { pid } => Ok(Resp::Bytes(self.proc(pid)?.exe.clone())),
            R::IsShared { pid, va } => Ok(Resp::Val(u64::from(
                self.vm(pid)?
                    .vma_at(va)
                    .is_some_and(|v| v.kind == VmaKind::Shared),
            ))),
            R::Placements => Ok(Resp::Placements(
                self.procs
                    .values()
                    .flat_map(|p| p.placement.iter().map(move |(t, pl)| (p.pid, *t, *pl)))
                    .collect(),
            )),
            R::Root { pid } => Ok(Resp::Val(self.vm(pid)?.root())),
            R::ForkGen { pid } => {
                let p = self.proc(pid)?;
                if p.forks_in_flight > 0 {
                    Err(Errno::EAGAIN)
                } else {
                    Ok(Resp::Val(p.fork_gen))
                }
            }
            R::Proc { pid } => {
                let p = self.procs.get(&pid).ok_or(Errno::ESRCH)?;
                Ok(Resp::Proc(ProcInfo {
                    pid,
                    ppid: p.ppid,
                    pgid: p.pgid,
                    sid: p.sid,
                    umask: p.umask,
                    exit_status: p.exit_status,
                }))
            }
            R::Hash => Ok(Resp::Val(self.state_hash())),
            R::Pending { pid, tid } => match self.proc(pid)? {
                p if p.exiting => Err(Errno::ESRCH),
                p => Ok(Resp::Val(
                    p.pending | p.thread_pending.get(&tid).copied().unwrap_or(0),
                )),
            },
        }
    }

    fn read_inode(&self, ino: Ino, offset: u64, len: u64) -> KResult<Vec<u8>> {
        let size = self.fs.stat(ino)?.size;
        let n = size.saturating_sub(offset).min(len).min(MAX_IO);
        let mut buf = Vec::new();
        buf.try_reserve_exact(n as usize)
            .map_err(|_| Errno::ENOMEM)?;
        self.fs.read_append(ino, offset, n as usize, &mut buf)?;
        Ok(buf)
    }
}

/// Whether an open file's flags allow reading.
fn can_read(flags: u32) -> bool {
    flags & O_PATH == 0 && matches!(flags & O_ACCMODE, 0 | 2)
}

/// Whether an open file's flags allow writing.
fn can_write(flags: u32) -> bool {
    flags & O_PATH == 0 && matches!(flags & O_ACCMODE, 1 | 2)
}

fn file_type(mode: u32) -> FileType {
    match mode & abi::flags::S_IFMT {
        abi::flags::S_IFDIR => FileType::Directory,
        abi::flags::S_IFLNK => FileType::Symlink,
        abi::flags::S_IFCHR => FileType::CharDevice,
        abi::flags::S_IFBLK => FileType::BlockDevice,
        abi::flags::S_IFIFO => FileType::Fifo,
        abi::flags::S_IFSOCK => FileType::Socket,
        _ => FileType::Regular,
    }
}

impl<M: FrameMemory + Clone> nr::Dispatch for KernelState<M> {
    type ReadOperation = ReadOp;
    type WriteOperation = WriteOp;
    type Response = KResult<Resp>;

    fn dispatch(&self, op: ReadOp) -> KResult<Resp> {
        self.query(op)
    }

    fn dispatch_mut(&mut self, op: WriteOp) -> KResult<Resp> {
        let r = match self.locality {
            Some(l) => {
                let token = (l.enter)(l.node);
                let r = self.apply(op);
                (l.exit)(token);
                r
            }
            None => self.apply(op),
        };
        self.unref(r)
    }
}

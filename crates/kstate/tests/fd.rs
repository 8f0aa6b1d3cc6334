//! File-descriptor semantics of `KernelState`, checked against what Linux
//! does for the same system calls.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use abi::errno::Errno;
use abi::flags::{
    AT_FDCWD, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_PATH, O_RDONLY, O_RDWR, O_TRUNC,
    O_WRONLY, S_IFCHR, S_IFMT, S_IFREG,
};
use common::*;
use kstate::{
    dirent64_len, FdInfo, FileObj, MapAt, ReadOp, ReadPlan, Resp, Stat, VmaKind, WriteOp, MAX_FDS,
};

const SEEK_SET: u32 = 0;
const SEEK_CUR: u32 = 1;
const SEEK_END: u32 = 2;

/// One process in a fresh single state.
struct Sys {
    ks: KS,
    mem: SharedMem,
    pid: u32,
    t: i64,
}

impl Sys {
    fn new() -> Self {
        let (mut ks, mem) = fresh(0x10_0000);
        let pid = as_pid(apply(
            &mut ks,
            WriteOp::Spawn {
                parent: 0,
                exe: b"/init".to_vec(),
            },
        ));
        Sys { ks, mem, pid, t: 0 }
    }
    fn now(&mut self) -> kstate::Timespec {
        self.t += 1;
        now(self.t)
    }
    fn w(&mut self, op: WriteOp) -> abi::errno::KResult<Resp> {
        apply(&mut self.ks, op)
    }
    fn r(&self, op: ReadOp) -> abi::errno::KResult<Resp> {
        query(&self.ks, op)
    }
    fn open_at(
        &mut self,
        dirfd: i32,
        path: &str,
        flags: u32,
        mode: u32,
    ) -> abi::errno::KResult<Resp> {
        let now = self.now();
        let pid = self.pid;
        self.w(WriteOp::Open {
            pid,
            dirfd,
            path: path.as_bytes().to_vec(),
            flags,
            mode,
            now,
        })
    }
    fn open(&mut self, path: &str, flags: u32) -> i32 {
        as_fd(self.open_at(AT_FDCWD, path, flags, 0o666))
    }
    fn try_open(&mut self, path: &str, flags: u32) -> Errno {
        err(self.open_at(AT_FDCWD, path, flags, 0o666))
    }
    fn write(&mut self, fd: i32, data: &[u8]) -> abi::errno::KResult<Resp> {
        let now = self.now();
        let pid = self.pid;
        self.w(WriteOp::Write {
            pid,
            fd,
            data: Arc::new(data.to_vec()),
            now,
        })
    }
    fn write_ok(&mut self, fd: i32, data: &[u8]) {
        assert_eq!(as_val(self.write(fd, data)), data.len() as u64);
    }
    fn mkdir(&mut self, path: &str, mode: u32) {
        let now = self.now();
        let pid = self.pid;
        as_unit(self.w(WriteOp::Mkdir {
            pid,
            dirfd: AT_FDCWD,
            path: path.as_bytes().to_vec(),
            mode,
            now,
        }));
    }
    fn create(&mut self, path: &str, data: &[u8]) {
        let fd = self.open(path, O_WRONLY | O_CREAT | O_TRUNC);
        if !data.is_empty() {
            self.write_ok(fd, data);
        }
        self.close(fd);
    }
    fn close(&mut self, fd: i32) {
        let pid = self.pid;
        as_unit(self.w(WriteOp::Close { pid, fd }));
    }
    fn close_res(&mut self, fd: i32) -> abi::errno::KResult<Resp> {
        let pid = self.pid;
        self.w(WriteOp::Close { pid, fd })
    }
    fn dup(&mut self, fd: i32, min: i32, cloexec: bool) -> abi::errno::KResult<Resp> {
        let pid = self.pid;
        self.w(WriteOp::Dup {
            pid,
            fd,
            min,
            cloexec,
        })
    }
    fn dup2(&mut self, old: i32, new: i32, cloexec: bool) -> abi::errno::KResult<Resp> {
        let pid = self.pid;
        self.w(WriteOp::Dup2 {
            pid,
            old,
            new,
            cloexec,
        })
    }
    fn seek(&mut self, fd: i32, offset: i64, whence: u32) -> abi::errno::KResult<Resp> {
        let pid = self.pid;
        self.w(WriteOp::Seek {
            pid,
            fd,
            offset,
            whence,
        })
    }
    fn advance(&mut self, fd: i32, len: u64) -> abi::errno::KResult<Resp> {
        let pid = self.pid;
        self.w(WriteOp::ReadAdvance { pid, fd, len })
    }
    fn plan(&mut self, fd: i32, len: u64) -> ReadPlan {
        match self.advance(fd, len) {
            Ok(Resp::Read(p)) => p,
            other => panic!("expected Read, got {other:?}"),
        }
    }
    /// `read(2)`: ReadAdvance + ReadInode, as the system-call layer does.
    fn read(&mut self, fd: i32, len: u64) -> Vec<u8> {
        match self.plan(fd, len) {
            ReadPlan::Inode { ino, offset, n } => {
                let b = as_bytes(self.r(ReadOp::ReadInode {
                    ino,
                    offset,
                    len: n,
                }));
                assert_eq!(b.len() as u64, n);
                b
            }
            ReadPlan::Bytes(b) => b,
            ReadPlan::Device { rdev } => panic!("device {rdev}"),
        }
    }
    fn info(&self, fd: i32) -> FdInfo {
        match self.r(ReadOp::FdInfo { pid: self.pid, fd }) {
            Ok(Resp::FdInfo(i)) => i,
            other => panic!("expected FdInfo, got {other:?}"),
        }
    }
    fn fd_err(&self, fd: i32) -> Errno {
        err(self.r(ReadOp::FdInfo { pid: self.pid, fd }))
    }
    fn offset(&self, fd: i32) -> u64 {
        self.info(fd).offset
    }
    fn ino_of_fd(&self, fd: i32) -> u64 {
        match self.info(fd).obj {
            FileObj::Inode(i) => i,
            o => panic!("not an inode: {o:?}"),
        }
    }
    fn stat_at(&self, dirfd: i32, path: &str) -> abi::errno::KResult<Stat> {
        match self.r(ReadOp::Stat {
            pid: self.pid,
            dirfd,
            path: path.as_bytes().to_vec(),
            follow: true,
        }) {
            Ok(Resp::Stat(s)) => Ok(s),
            Ok(o) => panic!("expected Stat, got {o:?}"),
            Err(e) => Err(e),
        }
    }
    fn stat(&self, path: &str) -> abi::errno::KResult<Stat> {
        self.stat_at(AT_FDCWD, path)
    }
    fn fstat(&self, fd: i32) -> Stat {
        match self.r(ReadOp::Fstat { pid: self.pid, fd }) {
            Ok(Resp::Stat(s)) => s,
            other => panic!("expected Stat, got {other:?}"),
        }
    }
    fn contents(&self, path: &str) -> Vec<u8> {
        let st = self.stat(path).unwrap();
        as_bytes(self.r(ReadOp::ReadInode {
            ino: st.ino,
            offset: 0,
            len: u64::MAX,
        }))
    }
    fn getcwd(&self) -> String {
        String::from_utf8(as_bytes(self.r(ReadOp::Getcwd { pid: self.pid }))).unwrap()
    }
    fn fds_open(&self) -> BTreeSet<i32> {
        (0..MAX_FDS)
            .filter(|&fd| self.r(ReadOp::FdInfo { pid: self.pid, fd }).is_ok())
            .collect()
    }
}

// ----- allocation, dup, dup2 ------------------------------------------------

#[test]
fn lowest_free_fd_is_allocated() {
    let mut s = Sys::new();
    s.create("/f", b"x");
    assert_eq!(s.open("/f", O_RDONLY), 0);
    assert_eq!(s.open("/f", O_RDONLY), 1);
    assert_eq!(s.open("/f", O_RDONLY), 2);
    assert_eq!(s.open("/f", O_RDONLY), 3);
    s.close(1);
    assert_eq!(s.open("/f", O_RDONLY), 1, "reuses the hole");
    s.close(0);
    s.close(2);
    assert_eq!(as_fd(s.dup(3, 0, false)), 0);
    assert_eq!(s.open("/f", O_RDONLY), 2);
    assert_eq!(s.open("/f", O_RDONLY), 4);
    // F_DUPFD with a minimum.
    assert_eq!(as_fd(s.dup(0, 2, false)), 5, "lowest free >= 2");
    assert_eq!(as_fd(s.dup(0, 10, false)), 10);
    assert_eq!(as_fd(s.dup(0, 10, false)), 11);
    assert_eq!(
        as_fd(s.dup(0, 0, false)),
        6,
        "plain dup: lowest free overall"
    );
    assert_eq!(
        err(s.dup(0, MAX_FDS, false)),
        Errno::EINVAL,
        "F_DUPFD arg >= RLIMIT_NOFILE"
    );
    assert_eq!(err(s.dup(0, -1, false)), Errno::EINVAL);
    assert_eq!(err(s.dup(77, 0, false)), Errno::EBADF);
    assert_eq!(
        s.fds_open(),
        [0, 1, 2, 3, 4, 5, 6, 10, 11].into_iter().collect()
    );
}

#[test]
fn dup_shares_the_open_file_description() {
    let mut s = Sys::new();
    let a = s.open("/f", O_RDWR | O_CREAT);
    s.write_ok(a, b"hello world");
    assert_eq!(s.offset(a), 11);
    let b = as_fd(s.dup(a, 0, false));
    assert_eq!(s.info(b).obj, s.info(a).obj);
    assert_eq!(s.offset(b), 11, "dup starts at the shared offset");
    assert_eq!(as_val(s.seek(a, 0, SEEK_SET)), 0);
    assert_eq!(s.offset(b), 0, "seek through one fd moves the other");
    assert_eq!(s.read(b, 5), b"hello");
    assert_eq!(s.offset(a), 5, "read through the dup moved the original");
    assert_eq!(as_val(s.seek(b, 1, SEEK_CUR)), 6);
    assert_eq!(s.read(a, 100), b"world");
    assert_eq!(s.offset(b), 11);
    // Writes through one fd advance the other's offset.
    as_val(s.seek(a, 0, SEEK_SET));
    s.write_ok(b, b"HE");
    assert_eq!(s.offset(a), 2);
    assert_eq!(s.read(a, 3), b"llo");
    // Status flags are per description too.
    let pid = s.pid;
    as_unit(s.w(WriteOp::SetStatusFlags {
        pid,
        fd: a,
        flags: O_APPEND,
    }));
    assert_ne!(s.info(b).flags & O_APPEND, 0);
    // A separate open has its own description and offset.
    let c = s.open("/f", O_RDONLY);
    assert_eq!(s.offset(c), 0);
    assert_eq!(s.read(c, 2), b"HE");
    assert_eq!(s.offset(a), 5);
    // dup2 shares as well, and closing one of the dups keeps the other alive.
    let d = as_fd(s.dup2(a, 20, false));
    assert_eq!(d, 20);
    s.close(a);
    s.close(b);
    assert_eq!(s.offset(d), 5);
    assert_eq!(s.read(d, 100), b" world");
}

#[test]
fn dup2_onto_an_open_fd_closes_it() {
    let mut s = Sys::new();
    s.create("/one", b"1111");
    s.create("/two", b"2222");
    let a = s.open("/one", O_RDONLY);
    let b = s.open("/two", O_RDONLY);
    let ino_one = s.ino_of_fd(a);
    // Unlink /two: its inode lives only as long as fd b.
    let pid = s.pid;
    let t = s.now();
    as_unit(s.w(WriteOp::Unlink {
        pid,
        dirfd: AT_FDCWD,
        path: b"/two".to_vec(),
        rmdir: false,
        now: t,
    }));
    let inodes = s.ks.fs().inode_count();
    assert_eq!(as_fd(s.dup2(a, b, false)), b);
    assert_eq!(s.ino_of_fd(b), ino_one, "b now refers to /one");
    assert_eq!(
        s.ks.fs().inode_count(),
        inodes - 1,
        "the replaced description was released"
    );
    assert_eq!(s.read(b, 4), b"1111");
    assert_eq!(s.offset(a), 4, "shared offset");
    // dup2(fd, fd) is a no-op returning fd (and keeps FD_CLOEXEC).
    as_unit(s.w(WriteOp::SetCloexec {
        pid,
        fd: a,
        cloexec: true,
    }));
    assert_eq!(as_fd(s.dup2(a, a, false)), a);
    assert!(s.info(a).cloexec, "dup2(fd, fd) must not touch FD_CLOEXEC");
    // dup2 onto an fd that already shares the description keeps it alive.
    assert_eq!(as_fd(s.dup2(a, b, false)), b);
    s.close(a);
    assert_eq!(s.offset(b), 4);
    // Errors.
    assert_eq!(err(s.dup2(99, 3, false)), Errno::EBADF, "bad old fd");
    assert_eq!(err(s.dup2(99, 99, false)), Errno::EBADF, "dup2(bad, bad)");
    assert_eq!(
        err(s.dup2(b, MAX_FDS, false)),
        Errno::EBADF,
        "new >= RLIMIT_NOFILE"
    );
    assert_eq!(err(s.dup2(b, -1, false)), Errno::EBADF);
    assert_eq!(as_fd(s.dup2(b, MAX_FDS - 1, false)), MAX_FDS - 1);
    // The lowest free fd is still found below a high dup2 target.
    assert_eq!(s.open("/one", O_RDONLY), 0);
}

#[test]
fn cloexec_flags() {
    let mut s = Sys::new();
    s.create("/f", b"");
    let pid = s.pid;
    let a = s.open("/f", O_RDONLY | O_CLOEXEC);
    assert!(s.info(a).cloexec);
    let b = s.open("/f", O_RDONLY);
    assert!(!s.info(b).cloexec);
    // dup clears FD_CLOEXEC; F_DUPFD_CLOEXEC / dup3(O_CLOEXEC) set it.
    let c = as_fd(s.dup(a, 0, false));
    assert!(!s.info(c).cloexec);
    let d = as_fd(s.dup(b, 0, true));
    assert!(s.info(d).cloexec);
    let e = as_fd(s.dup2(a, 10, false));
    assert!(!s.info(e).cloexec);
    let f = as_fd(s.dup2(b, 11, true));
    assert!(s.info(f).cloexec);
    // FD_CLOEXEC is per descriptor, not per description.
    as_unit(s.w(WriteOp::SetCloexec {
        pid,
        fd: b,
        cloexec: true,
    }));
    assert!(s.info(b).cloexec);
    as_unit(s.w(WriteOp::SetCloexec {
        pid,
        fd: a,
        cloexec: false,
    }));
    assert!(!s.info(a).cloexec);
    assert!(
        s.info(d).cloexec,
        "d shares b's description but has its own flag"
    );
    assert!(!s.info(c).cloexec);
    assert_eq!(
        err(s.w(WriteOp::SetCloexec {
            pid,
            fd: 500,
            cloexec: true
        })),
        Errno::EBADF
    );
    // O_CLOEXEC is not a status flag of the description.
    assert_eq!(s.info(a).flags & O_CLOEXEC, 0);
    // OpenBuffer honours O_CLOEXEC.
    let g = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: Arc::from(&b"x"[..]),
        flags: O_CLOEXEC,
    }));
    assert!(s.info(g).cloexec);
    let h = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: Arc::from(&b"x"[..]),
        flags: 0,
    }));
    assert!(!s.info(h).cloexec);
}

#[test]
fn reset_vm_closes_only_cloexec_fds() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.create("/f", b"abcdef");
    let keep = s.open("/f", O_RDONLY);
    let gone = s.open("/f", O_RDONLY | O_CLOEXEC);
    let dup_gone = as_fd(s.dup(keep, 0, true));
    let dup_keep = as_fd(s.dup(gone, 0, false));
    let buf_gone = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: Arc::from(&b"p"[..]),
        flags: O_CLOEXEC,
    }));
    assert_eq!(s.read(keep, 2), b"ab");
    // Unlinked file only reachable through a cloexec fd: freed by exec.
    s.create("/tmp", b"t");
    let tmp = s.open("/tmp", O_RDONLY | O_CLOEXEC);
    let t = s.now();
    as_unit(s.w(WriteOp::Unlink {
        pid,
        dirfd: AT_FDCWD,
        path: b"/tmp".to_vec(),
        rmdir: false,
        now: t,
    }));
    let inodes = s.ks.fs().inode_count();
    // Some memory.
    let (addr, _) = as_mapped(s.w(WriteOp::Mmap {
        pid,
        at: MapAt::Any,
        len: 8192,
        prot: 3,
        kind: VmaKind::Anon,
    }));
    match s.w(WriteOp::Populate {
        pid,
        pages: vec![(addr, 0x5000_0000)],
    }) {
        Ok(Resp::Populated(v)) => assert_eq!(v, vec![Ok(kstate::Populated::Installed)]),
        o => panic!("{o:?}"),
    }
    let frames = as_frames(s.w(WriteOp::ResetVm {
        pid,
        exe: b"/bin/new".to_vec(),
    }));
    assert_eq!(frames, vec![0x5000_0000]);
    assert_eq!(s.fds_open(), [keep, dup_keep].into_iter().collect());
    for fd in [gone, dup_gone, buf_gone, tmp] {
        assert_eq!(s.fd_err(fd), Errno::EBADF);
    }
    assert_eq!(
        s.ks.fs().inode_count(),
        inodes - 1,
        "unlinked file closed by exec was freed"
    );
    // Surviving descriptors keep their offsets (keep shares with dup_gone, which is closed).
    assert_eq!(s.offset(keep), 2);
    assert_eq!(s.read(dup_keep, 3), b"abc");
    // New image: empty address space, new exe, everything else unchanged.
    match s.r(ReadOp::Translate { pid, va: addr }) {
        Ok(Resp::Translation(None)) => {}
        o => panic!("{o:?}"),
    }
    match s.r(ReadOp::Proc { pid }) {
        Ok(Resp::Proc(p)) => assert_eq!(p.exit_status, None),
        o => panic!("{o:?}"),
    }
    assert_eq!(as_bytes(s.r(ReadOp::Exe { pid })), b"/bin/new");
    assert_eq!(s.mem.live_tables(), 1, "old tables freed, one fresh root");
}

#[test]
fn close_errors() {
    let mut s = Sys::new();
    s.create("/f", b"");
    assert_eq!(err(s.close_res(0)), Errno::EBADF);
    assert_eq!(err(s.close_res(-1)), Errno::EBADF);
    assert_eq!(err(s.close_res(MAX_FDS)), Errno::EBADF);
    assert_eq!(err(s.close_res(i32::MAX)), Errno::EBADF);
    let fd = s.open("/f", O_RDONLY);
    s.close(fd);
    assert_eq!(err(s.close_res(fd)), Errno::EBADF, "double close");
}

#[test]
fn emfile_at_max_fds() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.create("/f", b"");
    let first = s.open("/f", O_RDONLY);
    for i in 1..MAX_FDS {
        assert_eq!(as_fd(s.dup(first, 0, false)), i);
    }
    assert_eq!(s.try_open("/f", O_RDONLY), Errno::EMFILE);
    assert_eq!(err(s.dup(first, 0, false)), Errno::EMFILE);
    assert_eq!(err(s.dup(first, MAX_FDS - 1, false)), Errno::EMFILE);
    assert_eq!(
        err(s.w(WriteOp::OpenBuffer {
            pid,
            data: Arc::from(&b""[..]),
            flags: 0
        })),
        Errno::EMFILE
    );
    // Linux allocates the descriptor before creating the file: no file appears.
    assert_eq!(s.try_open("/new", O_RDWR | O_CREAT), Errno::EMFILE);
    assert_eq!(s.stat("/new").unwrap_err(), Errno::ENOENT);
    // dup2 onto an existing fd still works at the limit.
    assert_eq!(as_fd(s.dup2(first, MAX_FDS - 1, false)), MAX_FDS - 1);
    s.close(500);
    assert_eq!(s.open("/f", O_RDONLY), 500);
    assert_eq!(s.try_open("/f", O_RDONLY), Errno::EMFILE);
}

// ----- reading and writing --------------------------------------------------

#[test]
fn o_append_writes_go_to_the_end() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.create("/log", b"abc");
    let ap = s.open("/log", O_WRONLY | O_APPEND);
    assert_eq!(s.offset(ap), 0, "O_APPEND does not move the offset at open");
    s.write_ok(ap, b"de");
    assert_eq!(s.contents("/log"), b"abcde");
    assert_eq!(s.offset(ap), 5);
    as_val(s.seek(ap, 0, SEEK_SET));
    s.write_ok(ap, b"f");
    assert_eq!(
        s.contents("/log"),
        b"abcdef",
        "seek does not defeat O_APPEND"
    );
    // Another writer extends the file; the append fd still goes to the end.
    let other = s.open("/log", O_RDWR);
    as_val(s.seek(other, 10, SEEK_SET));
    s.write_ok(other, b"Z");
    s.write_ok(ap, b"g");
    let c = s.contents("/log");
    assert_eq!(c.len(), 12);
    assert_eq!(&c[..6], b"abcdef");
    assert_eq!(&c[6..10], &[0, 0, 0, 0], "hole reads as zeros");
    assert_eq!(&c[10..], b"Zg");
    assert_eq!(s.offset(ap), 12);
    // F_SETFL can turn O_APPEND on and off (not the access mode).
    as_unit(s.w(WriteOp::SetStatusFlags {
        pid,
        fd: other,
        flags: O_APPEND | O_WRONLY,
    }));
    assert_eq!(
        s.info(other).flags & 3,
        O_RDWR,
        "F_SETFL ignores the access mode"
    );
    as_val(s.seek(other, 0, SEEK_SET));
    s.write_ok(other, b"h");
    assert_eq!(s.contents("/log").last(), Some(&b'h'));
    as_unit(s.w(WriteOp::SetStatusFlags {
        pid,
        fd: other,
        flags: 0,
    }));
    as_val(s.seek(other, 0, SEEK_SET));
    s.write_ok(other, b"A");
    assert_eq!(&s.contents("/log")[..2], b"Ab");
    // O_TRUNC|O_APPEND.
    let t = s.open("/log", O_WRONLY | O_APPEND | O_TRUNC);
    s.write_ok(t, b"x");
    assert_eq!(s.contents("/log"), b"x");
}

#[test]
fn read_advance_moves_offset_and_stops_at_eof() {
    let mut s = Sys::new();
    s.create("/f", b"0123456789");
    let fd = s.open("/f", O_RDONLY);
    let ino = s.ino_of_fd(fd);
    assert_eq!(
        s.plan(fd, 4),
        ReadPlan::Inode {
            ino,
            offset: 0,
            n: 4
        }
    );
    assert_eq!(s.offset(fd), 4);
    assert_eq!(
        s.plan(fd, 100),
        ReadPlan::Inode {
            ino,
            offset: 4,
            n: 6
        }
    );
    assert_eq!(s.offset(fd), 10);
    assert_eq!(
        s.plan(fd, 100),
        ReadPlan::Inode {
            ino,
            offset: 10,
            n: 0
        },
        "EOF reads 0"
    );
    assert_eq!(s.offset(fd), 10);
    assert_eq!(
        s.plan(fd, 0),
        ReadPlan::Inode {
            ino,
            offset: 10,
            n: 0
        }
    );
    // Beyond EOF.
    assert_eq!(as_val(s.seek(fd, 100, SEEK_SET)), 100);
    assert_eq!(
        s.plan(fd, 5),
        ReadPlan::Inode {
            ino,
            offset: 100,
            n: 0
        }
    );
    assert_eq!(s.offset(fd), 100, "offset unchanged past EOF");
    // Zero-length read in the middle.
    as_val(s.seek(fd, 3, SEEK_SET));
    assert_eq!(
        s.plan(fd, 0),
        ReadPlan::Inode {
            ino,
            offset: 3,
            n: 0
        }
    );
    assert_eq!(s.offset(fd), 3);
    assert_eq!(s.read(fd, 3), b"345");
    // A huge length is clamped, not overflowed.
    assert_eq!(
        s.plan(fd, u64::MAX),
        ReadPlan::Inode {
            ino,
            offset: 6,
            n: 4
        }
    );
    // The file grows after EOF was seen: the next read sees the new bytes.
    let w = s.open("/f", O_WRONLY | O_APPEND);
    s.write_ok(w, b"ab");
    assert_eq!(s.read(fd, 10), b"ab");
    // Reading a directory: EISDIR; a character device: handed to the driver.
    let d = s.open("/", O_RDONLY | O_DIRECTORY);
    assert_eq!(err(s.advance(d, 1)), Errno::EISDIR);
    let pid = s.pid;
    let t = s.now();
    as_unit(s.w(WriteOp::Mknod {
        pid,
        dirfd: AT_FDCWD,
        path: b"/null".to_vec(),
        mode: S_IFCHR | 0o666,
        rdev: kstate::dev::NULL,
        now: t,
    }));
    let n = s.open("/null", O_RDWR);
    assert_eq!(
        s.plan(n, 10),
        ReadPlan::Device {
            rdev: kstate::dev::NULL
        }
    );
}

#[test]
fn access_mode_is_enforced() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.create("/f", b"data");
    let ro = s.open("/f", O_RDONLY);
    let wo = s.open("/f", O_WRONLY);
    let rw = s.open("/f", O_RDWR);
    let path = s.open("/f", O_PATH);
    let t = s.now();
    assert_eq!(err(s.write(ro, b"x")), Errno::EBADF, "write on O_RDONLY");
    assert_eq!(
        err(s.w(WriteOp::WriteAt {
            pid,
            fd: ro,
            offset: 0,
            data: Arc::new(b"x".to_vec()),
            now: t
        })),
        Errno::EBADF
    );
    assert_eq!(err(s.advance(wo, 1)), Errno::EBADF, "read on O_WRONLY");
    assert_eq!(
        err(s.r(ReadOp::ReadAt {
            pid,
            fd: wo,
            offset: 0,
            len: 1
        })),
        Errno::EBADF
    );
    assert_eq!(s.offset(wo), 0);
    assert_eq!(err(s.write(path, b"x")), Errno::EBADF, "write on O_PATH");
    assert_eq!(err(s.advance(path, 1)), Errno::EBADF, "read on O_PATH");
    assert_eq!(
        err(s.seek(path, 0, SEEK_SET)),
        Errno::EBADF,
        "lseek on O_PATH"
    );
    assert_eq!(s.contents("/f"), b"data", "nothing written");
    s.write_ok(rw, b"D");
    assert_eq!(s.read(rw, 10), b"ata");
    s.write_ok(wo, b"12");
    assert_eq!(s.contents("/f"), b"12ta");
    // ftruncate on a read-only descriptor: EINVAL (Linux).
    assert_eq!(
        err(s.w(WriteOp::Ftruncate {
            pid,
            fd: ro,
            len: 0,
            now: t
        })),
        Errno::EINVAL
    );
    // Writing a directory opened read-only: EBADF (not open for writing).
    let d = s.open("/", O_RDONLY | O_DIRECTORY);
    assert_eq!(err(s.write(d, b"x")), Errno::EBADF);
    assert_eq!(s.try_open("/", O_WRONLY), Errno::EISDIR);
    // Bad descriptors.
    assert_eq!(err(s.write(42, b"x")), Errno::EBADF);
    assert_eq!(err(s.advance(42, 1)), Errno::EBADF);
    // pread/pwrite do not move the offset.
    let off = s.offset(rw);
    assert_eq!(
        as_bytes(s.r(ReadOp::ReadAt {
            pid,
            fd: rw,
            offset: 1,
            len: 2
        })),
        b"2t"
    );
    assert_eq!(
        as_val(s.w(WriteOp::WriteAt {
            pid,
            fd: rw,
            offset: 6,
            data: Arc::new(b"!".to_vec()),
            now: t
        })),
        1
    );
    assert_eq!(s.offset(rw), off);
    assert_eq!(s.contents("/f"), b"12ta\0\0!");
}

#[test]
fn seek_whence_and_negative_offsets() {
    let mut s = Sys::new();
    s.create("/f", b"0123456789");
    let fd = s.open("/f", O_RDONLY);
    assert_eq!(as_val(s.seek(fd, 4, SEEK_SET)), 4);
    assert_eq!(as_val(s.seek(fd, 2, SEEK_CUR)), 6);
    assert_eq!(as_val(s.seek(fd, -1, SEEK_CUR)), 5);
    assert_eq!(as_val(s.seek(fd, 0, SEEK_END)), 10);
    assert_eq!(as_val(s.seek(fd, -3, SEEK_END)), 7);
    assert_eq!(as_val(s.seek(fd, 5, SEEK_END)), 15, "past EOF is fine");
    for whence in [5, 99, u32::MAX] {
        assert_eq!(err(s.seek(fd, 0, whence)), Errno::EINVAL, "whence {whence}");
    }
    assert_eq!(err(s.seek(fd, -1, SEEK_SET)), Errno::EINVAL);
    assert_eq!(err(s.seek(fd, -16, SEEK_CUR)), Errno::EINVAL);
    assert_eq!(err(s.seek(fd, -11, SEEK_END)), Errno::EINVAL);
    assert_eq!(err(s.seek(fd, i64::MIN, SEEK_END)), Errno::EINVAL);
    assert_eq!(s.offset(fd), 15, "failed seeks leave the offset alone");
    assert_eq!(as_val(s.seek(fd, i64::MAX, SEEK_SET)), i64::MAX as u64);
    assert_eq!(err(s.seek(fd, 1, SEEK_CUR)), Errno::EINVAL, "overflow");
    assert_eq!(
        err(s.seek(fd, i64::MAX, SEEK_END)),
        Errno::EINVAL,
        "overflow"
    );
    assert_eq!(err(s.seek(77, 0, SEEK_SET)), Errno::EBADF);
    // Directories: SEEK_SET/SEEK_CUR only.
    let d = s.open("/", O_RDONLY | O_DIRECTORY);
    assert_eq!(as_val(s.seek(d, 0, SEEK_SET)), 0);
    assert_eq!(err(s.seek(d, 0, SEEK_END)), Errno::EINVAL);
    // Buffers: SEEK_END relative to the content length.
    let pid = s.pid;
    let b = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: Arc::from(&b"abcdef"[..]),
        flags: 0,
    }));
    assert_eq!(as_val(s.seek(b, -2, SEEK_END)), 4);
    assert_eq!(s.read(b, 10), b"ef");
}

// ----- directories ------------------------------------------------------------

fn names_of(v: &[(kstate::DirEntry, u64)]) -> Vec<Vec<u8>> {
    v.iter().map(|(e, _)| e.name.clone()).collect()
}

#[test]
fn getdents_small_buffers_resume_without_loss() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.mkdir("/d", 0o755);
    let mut expect_names = BTreeSet::new();
    for i in 0..60 {
        // Names of different lengths so dirent sizes vary (24..=280 bytes).
        let len = 1 + (i * 37) % 90;
        let name: String = std::iter::repeat_n((b'a' + (i % 26) as u8) as char, len)
            .collect::<String>()
            + &i.to_string();
        if i % 7 == 3 {
            s.mkdir(&format!("/d/{name}"), 0o755);
        } else {
            s.create(&format!("/d/{name}"), b"");
        }
        expect_names.insert(name.into_bytes());
    }
    let dino = s.stat("/d").unwrap().ino;
    let reference: Vec<Vec<u8>> =
        s.ks.fs()
            .readdir(dino, 0, usize::MAX)
            .unwrap()
            .0
            .into_iter()
            .map(|e| e.name)
            .collect();
    assert_eq!(reference.len(), 62);
    for bufsize in [24u64, 32, 40, 63, 100, 280, 300, 1000, 4096, 1 << 20] {
        let fd = s.open("/d", O_RDONLY | O_DIRECTORY);
        let mut got: Vec<Vec<u8>> = Vec::new();
        loop {
            match s.w(WriteOp::Getdents { pid, fd, bufsize }) {
                Ok(Resp::Dirents(v)) => {
                    if v.is_empty() {
                        break;
                    }
                    let used: u64 = v.iter().map(|(e, _)| dirent64_len(e.name.len())).sum();
                    assert!(used <= bufsize, "bufsize {bufsize}: {used} bytes returned");
                    // d_off of the last entry is the new directory offset.
                    assert_eq!(s.offset(fd), v.last().unwrap().1);
                    got.extend(names_of(&v));
                }
                Err(e) => {
                    // Only when the next entry alone does not fit.
                    assert_eq!(e, Errno::EINVAL);
                    let next = &reference[got.len()];
                    assert!(
                        dirent64_len(next.len()) > bufsize,
                        "EINVAL although {next:?} fits in {bufsize}"
                    );
                    // Skip it with a bigger buffer, like a caller would retry.
                    match s.w(WriteOp::Getdents {
                        pid,
                        fd,
                        bufsize: 4096,
                    }) {
                        Ok(Resp::Dirents(v)) => {
                            got.push(v[0].0.name.clone());
                            as_val(s.seek(fd, v[0].1 as i64, SEEK_SET));
                        }
                        o => panic!("{o:?}"),
                    }
                }
                Ok(o) => panic!("{o:?}"),
            }
        }
        assert_eq!(
            got, reference,
            "bufsize {bufsize}: listing differs from memfs"
        );
        let set: BTreeSet<_> = got.iter().cloned().collect();
        assert_eq!(set.len(), got.len(), "duplicates");
        let mut all = expect_names.clone();
        all.insert(b".".to_vec());
        all.insert(b"..".to_vec());
        assert_eq!(set, all);
        // At the end it keeps returning nothing.
        match s.w(WriteOp::Getdents { pid, fd, bufsize }) {
            Ok(Resp::Dirents(v)) => assert!(v.is_empty()),
            o => panic!("{o:?}"),
        }
        s.close(fd);
    }
    // A buffer too small for the first entry: EINVAL, offset unchanged.
    let fd = s.open("/d", O_RDONLY | O_DIRECTORY);
    assert_eq!(
        err(s.w(WriteOp::Getdents {
            pid,
            fd,
            bufsize: 23
        })),
        Errno::EINVAL
    );
    assert_eq!(
        err(s.w(WriteOp::Getdents {
            pid,
            fd,
            bufsize: 0
        })),
        Errno::EINVAL
    );
    assert_eq!(s.offset(fd), 0);
    // seekdir to a returned d_off resumes at the entry after it.
    let first = match s.w(WriteOp::Getdents {
        pid,
        fd,
        bufsize: 24 * 5,
    }) {
        Ok(Resp::Dirents(v)) => v,
        o => panic!("{o:?}"),
    };
    let cookie = first[1].1;
    as_val(s.seek(fd, cookie as i64, SEEK_SET));
    match s.w(WriteOp::Getdents {
        pid,
        fd,
        bufsize: 4096,
    }) {
        Ok(Resp::Dirents(v)) => assert_eq!(v[0].0.name, reference[2]),
        o => panic!("{o:?}"),
    }
    // rewinddir.
    as_val(s.seek(fd, 0, SEEK_SET));
    match s.w(WriteOp::Getdents {
        pid,
        fd,
        bufsize: 4096,
    }) {
        Ok(Resp::Dirents(v)) => assert_eq!(v[0].0.name, b"."),
        o => panic!("{o:?}"),
    }
    // Not a directory.
    let f = s.open(
        &format!("/d/{}", String::from_utf8(reference[3].clone()).unwrap()),
        O_RDONLY,
    );
    assert_eq!(
        err(s.w(WriteOp::Getdents {
            pid,
            fd: f,
            bufsize: 4096
        })),
        Errno::ENOTDIR
    );
    let b = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: Arc::from(&b""[..]),
        flags: 0,
    }));
    assert_eq!(
        err(s.w(WriteOp::Getdents {
            pid,
            fd: b,
            bufsize: 4096
        })),
        Errno::ENOTDIR
    );
    assert_eq!(
        err(s.w(WriteOp::Getdents {
            pid,
            fd: 99,
            bufsize: 4096
        })),
        Errno::EBADF
    );
}

#[test]
fn getdents_with_concurrent_changes_never_repeats_or_skips_survivors() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.mkdir("/d", 0o755);
    for i in 0..30 {
        s.create(&format!("/d/f{i:02}"), b"");
    }
    let fd = s.open("/d", O_RDONLY | O_DIRECTORY);
    let mut got = Vec::new();
    let mut round = 0;
    loop {
        let v = match s.w(WriteOp::Getdents {
            pid,
            fd,
            bufsize: 24 * 4,
        }) {
            Ok(Resp::Dirents(v)) => v,
            o => panic!("{o:?}"),
        };
        if v.is_empty() {
            break;
        }
        got.extend(names_of(&v));
        assert!(round < 200, "listing does not end: {:?}", names_of(&v));
        // Remove one not-yet-seen entry and add a new one between calls.
        let victim = format!("/d/f{:02}", 29 - round);
        let t = s.now();
        let _ = s.w(WriteOp::Unlink {
            pid,
            dirfd: AT_FDCWD,
            path: victim.into_bytes(),
            rmdir: false,
            now: t,
        });
        if round < 5 {
            s.create(&format!("/d/n{round:02}"), b"");
        }
        round += 1;
    }
    let set: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(set.len(), got.len(), "an entry was returned twice: {got:?}");
    // Every entry present for the whole listing was returned.
    let dino = s.stat("/d").unwrap().ino;
    let now: BTreeSet<Vec<u8>> =
        s.ks.fs()
            .readdir(dino, 0, usize::MAX)
            .unwrap()
            .0
            .into_iter()
            .map(|e| e.name)
            .collect();
    for i in 0..(30 - round).max(0) {
        let n = format!("f{i:02}").into_bytes();
        assert!(
            now.contains(&n) && set.contains(&n),
            "survivor {} missed",
            String::from_utf8_lossy(&n)
        );
    }
    // Entries created ahead of the cursor are returned.
    for i in 0..5 {
        assert!(
            set.contains(format!("n{i:02}").as_bytes()),
            "new entry n{i:02} missed"
        );
    }
}

// ----- lifetimes ------------------------------------------------------------------

#[test]
fn unlinked_open_file_stays_readable_until_close() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.create("/f", b"persist");
    let base = s.ks.fs().inode_count();
    let a = s.open("/f", O_RDWR);
    let b = as_fd(s.dup(a, 0, false));
    let c = s.open("/f", O_RDONLY);
    let t = s.now();
    as_unit(s.w(WriteOp::Unlink {
        pid,
        dirfd: AT_FDCWD,
        path: b"/f".to_vec(),
        rmdir: false,
        now: t,
    }));
    assert_eq!(s.stat("/f").unwrap_err(), Errno::ENOENT);
    assert_eq!(s.ks.fs().inode_count(), base, "still alive");
    assert_eq!(s.fstat(a).nlink, 0);
    assert_eq!(s.read(a, 4), b"pers");
    s.write_ok(b, b"IST!");
    assert_eq!(
        as_bytes(s.r(ReadOp::ReadAt {
            pid,
            fd: c,
            offset: 0,
            len: 100
        })),
        b"persIST!"
    );
    // A new file with the same name is a different inode.
    s.create("/f", b"new");
    assert_eq!(s.ks.fs().inode_count(), base + 1);
    assert_eq!(s.read(c, 100), b"persIST!");
    s.close(a);
    s.close(c);
    assert_eq!(s.read(b, 100), b"", "b shares a's offset (8)");
    as_val(s.seek(b, 0, SEEK_SET));
    assert_eq!(s.read(b, 100), b"persIST!");
    assert_eq!(s.ks.fs().inode_count(), base + 1);
    s.close(b);
    assert_eq!(
        s.ks.fs().inode_count(),
        base,
        "last close freed the unlinked inode"
    );
    s.ks.fs().check_invariants().unwrap();
    // Same with a removed directory held open: getdents on it fails with
    // ENOENT (Linux: IS_DEADDIR), fstat works, relative creation fails.
    s.mkdir("/dd", 0o755);
    let d = s.open("/dd", O_RDONLY | O_DIRECTORY);
    let t = s.now();
    as_unit(s.w(WriteOp::Unlink {
        pid,
        dirfd: AT_FDCWD,
        path: b"/dd".to_vec(),
        rmdir: true,
        now: t,
    }));
    assert_eq!(s.fstat(d).nlink, 0);
    assert_eq!(
        err(s.w(WriteOp::Getdents {
            pid,
            fd: d,
            bufsize: 4096
        })),
        Errno::ENOENT
    );
    assert_eq!(
        err(s.open_at(d, "x", O_CREAT | O_RDWR, 0o644)),
        Errno::ENOENT
    );
    s.close(d);
    assert_eq!(
        s.ks.fs().inode_count(),
        base,
        "removed directory freed on close"
    );
}

#[test]
fn chdir_fchdir_getcwd() {
    let mut s = Sys::new();
    let pid = s.pid;
    assert_eq!(s.getcwd(), "/");
    s.mkdir("/a", 0o755);
    s.mkdir("/a/b", 0o755);
    s.create("/a/file", b"");
    as_unit(s.w(WriteOp::Chdir {
        pid,
        dirfd: AT_FDCWD,
        path: b"a".to_vec(),
    }));
    assert_eq!(s.getcwd(), "/a");
    as_unit(s.w(WriteOp::Chdir {
        pid,
        dirfd: AT_FDCWD,
        path: b"b".to_vec(),
    }));
    assert_eq!(s.getcwd(), "/a/b");
    as_unit(s.w(WriteOp::Chdir {
        pid,
        dirfd: AT_FDCWD,
        path: b"..".to_vec(),
    }));
    assert_eq!(s.getcwd(), "/a");
    assert_eq!(
        err(s.w(WriteOp::Chdir {
            pid,
            dirfd: AT_FDCWD,
            path: b"file".to_vec()
        })),
        Errno::ENOTDIR
    );
    assert_eq!(
        err(s.w(WriteOp::Chdir {
            pid,
            dirfd: AT_FDCWD,
            path: b"nope".to_vec()
        })),
        Errno::ENOENT
    );
    assert_eq!(
        err(s.w(WriteOp::Chdir {
            pid,
            dirfd: AT_FDCWD,
            path: b"".to_vec()
        })),
        Errno::ENOENT
    );
    assert_eq!(s.getcwd(), "/a");
    // Relative creation lands in the cwd.
    let fd = s.open("rel", O_CREAT | O_WRONLY);
    s.close(fd);
    assert!(s.stat("/a/rel").is_ok());
    // fchdir through a directory descriptor (plain and O_PATH).
    let bfd = s.open("/a/b", O_RDONLY | O_DIRECTORY);
    let pfd = s.open("/", O_PATH);
    as_unit(s.w(WriteOp::Fchdir { pid, fd: pfd }));
    assert_eq!(s.getcwd(), "/");
    as_unit(s.w(WriteOp::Fchdir { pid, fd: bfd }));
    assert_eq!(s.getcwd(), "/a/b");
    // The descriptor follows the directory when it is renamed.
    let t = s.now();
    as_unit(s.w(WriteOp::Rename {
        pid,
        olddirfd: AT_FDCWD,
        old: b"/a".to_vec(),
        newdirfd: AT_FDCWD,
        new: b"/z".to_vec(),
        now: t,
    }));
    assert_eq!(s.getcwd(), "/z/b");
    let ffd = s.open("/z/file", O_RDONLY);
    assert_eq!(err(s.w(WriteOp::Fchdir { pid, fd: ffd })), Errno::ENOTDIR);
    let buf = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: Arc::from(&b""[..]),
        flags: 0,
    }));
    assert_eq!(err(s.w(WriteOp::Fchdir { pid, fd: buf })), Errno::ENOTDIR);
    // A child inherits the cwd.
    let child = as_pid(s.w(WriteOp::Spawn {
        parent: pid,
        exe: b"/c".to_vec(),
    }));
    assert_eq!(
        String::from_utf8(as_bytes(s.r(ReadOp::Getcwd { pid: child }))).unwrap(),
        "/z/b"
    );
    // Stat with an empty path and AT_FDCWD is the cwd.
    assert_eq!(s.stat("").unwrap().ino, s.stat("/z/b").unwrap().ino);
}

#[test]
/// Regression: Fchdir used to map every error (EBADF, ESRCH) to ENOTDIR.
fn fchdir_bad_fd_is_ebadf() {
    let mut s = Sys::new();
    let pid = s.pid;
    assert_eq!(err(s.w(WriteOp::Fchdir { pid, fd: 42 })), Errno::EBADF);
    assert_eq!(err(s.w(WriteOp::Fchdir { pid: 999, fd: 0 })), Errno::ESRCH);
}

#[test]
fn relative_paths_with_dirfd() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.mkdir("/a", 0o755);
    let d = s.open("/a", O_RDONLY | O_DIRECTORY);
    let p = s.open("/a", O_PATH | O_DIRECTORY);
    let f = as_fd(s.open_at(d, "x", O_CREAT | O_RDWR, 0o644));
    s.write_ok(f, b"xx");
    assert_eq!(s.contents("/a/x"), b"xx");
    let t = s.now();
    as_unit(s.w(WriteOp::Mkdir {
        pid,
        dirfd: p,
        path: b"sub".to_vec(),
        mode: 0o755,
        now: t,
    }));
    assert!(s.stat("/a/sub").is_ok());
    assert_eq!(s.stat_at(d, "x").unwrap().size, 2);
    assert_eq!(
        s.stat_at(d, "sub/..").unwrap().ino,
        s.stat("/a").unwrap().ino
    );
    as_unit(s.w(WriteOp::Rename {
        pid,
        olddirfd: d,
        old: b"x".to_vec(),
        newdirfd: p,
        new: b"sub/y".to_vec(),
        now: t,
    }));
    assert!(s.stat("/a/sub/y").is_ok());
    as_unit(s.w(WriteOp::Symlink {
        pid,
        target: b"sub/y".to_vec(),
        dirfd: d,
        path: b"ln".to_vec(),
        now: t,
    }));
    assert_eq!(
        as_bytes(s.r(ReadOp::Readlink {
            pid,
            dirfd: p,
            path: b"ln".to_vec()
        })),
        b"sub/y"
    );
    as_unit(s.w(WriteOp::Link {
        pid,
        olddirfd: p,
        old: b"sub/y".to_vec(),
        newdirfd: AT_FDCWD,
        new: b"/top".to_vec(),
        now: t,
    }));
    assert_eq!(s.stat("/top").unwrap().nlink, 2);
    as_unit(s.w(WriteOp::Unlink {
        pid,
        dirfd: d,
        path: b"ln".to_vec(),
        rmdir: false,
        now: t,
    }));
    assert_eq!(s.stat("/a/ln").unwrap_err(), Errno::ENOENT);
    as_unit(s.w(WriteOp::Truncate {
        pid,
        dirfd: d,
        path: b"sub/y".to_vec(),
        len: 1,
        now: t,
    }));
    assert_eq!(s.contents("/top"), b"x");
    // The dirfd keeps naming the directory after a rename of it.
    as_unit(s.w(WriteOp::Rename {
        pid,
        olddirfd: AT_FDCWD,
        old: b"/a".to_vec(),
        newdirfd: AT_FDCWD,
        new: b"/b".to_vec(),
        now: t,
    }));
    assert!(s.stat_at(d, "sub/y").is_ok());
    // Errors: a non-directory dirfd, a bad dirfd; absolute paths ignore dirfd.
    assert_eq!(
        err(s.open_at(f, "q", O_CREAT | O_RDWR, 0o644)),
        Errno::ENOTDIR
    );
    assert_eq!(s.stat_at(99, "q").unwrap_err(), Errno::EBADF);
    assert!(s.stat_at(99, "/b/sub").is_ok());
    assert!(s.stat_at(f, "/b/sub").is_ok());
    let buf = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: Arc::from(&b""[..]),
        flags: 0,
    }));
    assert_eq!(s.stat_at(buf, "q").unwrap_err(), Errno::ENOTDIR);
    // AT_EMPTY_PATH-style stat on the descriptor itself.
    assert_eq!(s.stat_at(f, "").unwrap().ino, s.stat("/top").unwrap().ino);
    assert_eq!(
        match s.r(ReadOp::Access {
            pid,
            dirfd: d,
            path: b"sub".to_vec(),
            follow: true
        }) {
            Ok(Resp::Unit) => true,
            _ => false,
        },
        true
    );
}

#[test]
fn open_buffer_contents() {
    let mut s = Sys::new();
    let pid = s.pid;
    let data: Arc<[u8]> = Arc::from(&b"pid 1 status\n"[..]);
    let fd = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: data.clone(),
        flags: O_RDWR,
    }));
    let i = s.info(fd);
    assert_eq!(i.obj, FileObj::Buffer(data.clone()));
    assert_eq!(i.kind, None);
    assert_eq!(i.size, data.len() as u64);
    assert_eq!(i.flags & 3, O_RDONLY, "always read-only");
    assert_eq!(s.plan(fd, 4), ReadPlan::Bytes(b"pid ".to_vec()));
    assert_eq!(s.offset(fd), 4);
    assert_eq!(s.read(fd, 100), b"1 status\n");
    assert_eq!(s.read(fd, 100), b"");
    assert_eq!(s.offset(fd), data.len() as u64);
    as_val(s.seek(fd, 1000, SEEK_SET));
    assert_eq!(s.read(fd, 100), b"", "past the end");
    assert_eq!(s.offset(fd), 1000);
    assert_eq!(
        as_bytes(s.r(ReadOp::ReadAt {
            pid,
            fd,
            offset: 4,
            len: 1
        })),
        b"1"
    );
    assert_eq!(
        as_bytes(s.r(ReadOp::ReadAt {
            pid,
            fd,
            offset: 100,
            len: 1
        })),
        b""
    );
    assert_eq!(
        as_bytes(s.r(ReadOp::ReadAt {
            pid,
            fd,
            offset: 10,
            len: u64::MAX
        })),
        b"us\n"
    );
    let st = s.fstat(fd);
    assert_eq!(st.size, data.len() as u64);
    assert_eq!(st.mode & S_IFMT, S_IFREG);
    assert_eq!(err(s.write(fd, b"x")), Errno::EBADF);
    let t = s.now();
    assert_eq!(
        err(s.w(WriteOp::Ftruncate {
            pid,
            fd,
            len: 0,
            now: t
        })),
        Errno::EINVAL
    );
    // Two buffers are independent; a dup shares the offset.
    let fd2 = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: Arc::from(&b"other"[..]),
        flags: 0,
    }));
    let fd3 = as_fd(s.dup(fd2, 0, false));
    assert_eq!(s.read(fd2, 2), b"ot");
    assert_eq!(s.read(fd3, 10), b"her");
    assert_ne!(
        s.fstat(fd).ino,
        s.fstat(fd2).ino,
        "distinct fake inode numbers"
    );
}

#[test]
fn umask_applies_on_create() {
    let mut s = Sys::new();
    let pid = s.pid;
    let t = s.now();
    let f = as_fd(s.open_at(AT_FDCWD, "/f", O_CREAT | O_RDWR, 0o666));
    s.close(f);
    assert_eq!(
        s.stat("/f").unwrap().mode & 0o7777,
        0o644,
        "default umask 022"
    );
    assert_eq!(as_val(s.w(WriteOp::Umask { pid, mask: 0o077 })), 0o022);
    as_fd(s.open_at(AT_FDCWD, "/g", O_CREAT | O_RDWR, 0o777));
    assert_eq!(s.stat("/g").unwrap().mode & 0o7777, 0o700);
    as_unit(s.w(WriteOp::Mkdir {
        pid,
        dirfd: AT_FDCWD,
        path: b"/d".to_vec(),
        mode: 0o777,
        now: t,
    }));
    assert_eq!(s.stat("/d").unwrap().mode & 0o7777, 0o700);
    as_unit(s.w(WriteOp::Mknod {
        pid,
        dirfd: AT_FDCWD,
        path: b"/n".to_vec(),
        mode: S_IFREG | 0o666,
        rdev: 0,
        now: t,
    }));
    assert_eq!(s.stat("/n").unwrap().mode & 0o7777, 0o600);
    // Only the permission bits are kept.
    assert_eq!(as_val(s.w(WriteOp::Umask { pid, mask: 0o7777 })), 0o077);
    assert_eq!(as_val(s.w(WriteOp::Umask { pid, mask: 0o002 })), 0o777);
    // Opening an existing file does not change its mode.
    as_fd(s.open_at(AT_FDCWD, "/g", O_CREAT | O_RDWR, 0o777));
    assert_eq!(s.stat("/g").unwrap().mode & 0o7777, 0o700);
    assert_eq!(
        err(s.open_at(AT_FDCWD, "/g", O_CREAT | O_EXCL | O_RDWR, 0o777)),
        Errno::EEXIST
    );
    // chmod ignores the umask.
    as_unit(s.w(WriteOp::Chmod {
        pid,
        dirfd: AT_FDCWD,
        path: b"/g".to_vec(),
        mode: 0o777,
        now: t,
    }));
    assert_eq!(s.stat("/g").unwrap().mode & 0o7777, 0o777);
    // A child inherits the umask.
    let child = as_pid(s.w(WriteOp::Spawn {
        parent: pid,
        exe: vec![],
    }));
    match s.r(ReadOp::Proc { pid: child }) {
        Ok(Resp::Proc(p)) => assert_eq!(p.umask, 0o002),
        o => panic!("{o:?}"),
    }
    as_fd(s.w(WriteOp::Open {
        pid: child,
        dirfd: AT_FDCWD,
        path: b"/h".to_vec(),
        flags: O_CREAT | O_RDWR,
        mode: 0o777,
        now: t,
    }));
    assert_eq!(s.stat("/h").unwrap().mode & 0o7777, 0o775);
}

#[test]
fn exit_closes_everything_and_reap_removes_the_zombie() {
    let mut s = Sys::new();
    let pid = s.pid;
    let other = as_pid(s.w(WriteOp::Spawn {
        parent: pid,
        exe: b"/o".to_vec(),
    }));
    s.create("/f", b"abc");
    let base = s.ks.fs().inode_count();
    let a = s.open("/f", O_RDWR | O_CLOEXEC);
    let _b = as_fd(s.dup(a, 0, false));
    let _c = s.open("/", O_RDONLY | O_DIRECTORY);
    let _d = as_fd(s.w(WriteOp::OpenBuffer {
        pid,
        data: Arc::from(&b"x"[..]),
        flags: 0,
    }));
    let t = s.now();
    as_unit(s.w(WriteOp::Unlink {
        pid,
        dirfd: AT_FDCWD,
        path: b"/f".to_vec(),
        rmdir: false,
        now: t,
    }));
    assert_eq!(s.ks.fs().inode_count(), base);
    let (addr, _) = as_mapped(s.w(WriteOp::Mmap {
        pid,
        at: MapAt::Any,
        len: 4096 * 3,
        prot: 3,
        kind: VmaKind::Anon,
    }));
    as_unit(s.w(WriteOp::SetBrkStart {
        pid,
        addr: 0x40_0000,
    }));
    let (brk, _) = as_mapped(s.w(WriteOp::Brk {
        pid,
        addr: 0x40_2000,
    }));
    assert_eq!(brk, 0x40_2000);
    match s.w(WriteOp::Populate {
        pid,
        pages: vec![(addr, 0xA000), (addr + 8192, 0xB000), (0x40_1000, 0xC000)],
    }) {
        Ok(Resp::Populated(v)) => assert!(v.iter().all(|r| *r == Ok(kstate::Populated::Installed))),
        o => panic!("{o:?}"),
    }
    let tables_before = s.mem.live_tables();
    assert!(tables_before > 2);
    let mut frames = as_frames(s.w(WriteOp::Exit { pid, status: 7 }));
    frames.sort_unstable();
    assert_eq!(frames, vec![0xA000, 0xB000, 0xC000]);
    assert_eq!(
        s.ks.fs().inode_count(),
        base - 1,
        "unlinked file freed by exit"
    );
    // Only the other process's root table is left.
    assert_eq!(s.mem.live_tables(), 1);
    let p = s.ks.process(pid).expect("zombie kept");
    assert!(p.vm.is_none());
    assert_eq!(p.exit_status, Some(7));
    assert_eq!(s.ks.process_count(), 2);
    // Everything else on the zombie: ESRCH.
    assert_eq!(s.fd_err(a), Errno::ESRCH);
    assert_eq!(err(s.close_res(a)), Errno::ESRCH);
    assert_eq!(s.try_open("/", O_RDONLY), Errno::ESRCH);
    assert_eq!(err(s.dup(a, 0, false)), Errno::ESRCH);
    assert_eq!(err(s.write(a, b"x")), Errno::ESRCH);
    assert_eq!(err(s.w(WriteOp::Umask { pid, mask: 0 })), Errno::ESRCH);
    assert_eq!(
        err(s.w(WriteOp::Mmap {
            pid,
            at: MapAt::Any,
            len: 4096,
            prot: 3,
            kind: VmaKind::Anon
        })),
        Errno::ESRCH
    );
    assert_eq!(
        err(s.w(WriteOp::Populate {
            pid,
            pages: vec![(addr, 0xD000)]
        })),
        Errno::ESRCH
    );
    assert_eq!(
        err(s.w(WriteOp::Exit { pid, status: 1 })),
        Errno::ESRCH,
        "exit twice"
    );
    assert_eq!(err(s.r(ReadOp::Getcwd { pid })), Errno::ESRCH);
    assert_eq!(err(s.r(ReadOp::Translate { pid, va: addr })), Errno::ESRCH);
    assert_eq!(err(s.r(ReadOp::Root { pid })), Errno::ESRCH);
    assert_eq!(
        err(s.w(WriteOp::Chdir {
            pid,
            dirfd: AT_FDCWD,
            path: b"/".to_vec()
        })),
        Errno::ESRCH
    );
    match s.r(ReadOp::Proc { pid }) {
        Ok(Resp::Proc(p)) => assert_eq!(p.exit_status, Some(7)),
        o => panic!("{o:?}"),
    }
    // Reap.
    assert_eq!(
        err(s.w(WriteOp::Reap { pid: other })),
        Errno::ECHILD,
        "still running"
    );
    assert_eq!(err(s.w(WriteOp::Reap { pid: 12345 })), Errno::ECHILD);
    assert_eq!(as_val(s.w(WriteOp::Reap { pid })), 7);
    assert_eq!(
        err(s.w(WriteOp::Reap { pid })),
        Errno::ECHILD,
        "reaped twice"
    );
    assert_eq!(err(s.r(ReadOp::Proc { pid })), Errno::ESRCH);
    assert_eq!(s.ks.process_count(), 1);
    // Negative status survives as its 32-bit pattern; pids are not reused.
    as_frames(s.w(WriteOp::Exit {
        pid: other,
        status: -1,
    }));
    assert_eq!(as_val(s.w(WriteOp::Reap { pid: other })), 0xffff_ffff);
    let next = as_pid(s.w(WriteOp::Spawn {
        parent: 0,
        exe: vec![],
    }));
    assert!(next > other);
    s.ks.fs().check_invariants().unwrap();
}

#[test]
fn ops_on_unknown_pid_are_esrch() {
    let mut s = Sys::new();
    let t = s.now();
    let pid = 4242;
    assert_eq!(
        err(s.w(WriteOp::Open {
            pid,
            dirfd: AT_FDCWD,
            path: b"/x".to_vec(),
            flags: O_CREAT,
            mode: 0o644,
            now: t
        })),
        Errno::ESRCH
    );
    assert_eq!(
        s.stat("/x").unwrap_err(),
        Errno::ENOENT,
        "nothing created for a bad pid"
    );
    assert_eq!(err(s.w(WriteOp::Close { pid, fd: 0 })), Errno::ESRCH);
    assert_eq!(err(s.w(WriteOp::Exit { pid, status: 0 })), Errno::ESRCH);
    assert_eq!(
        err(s.w(WriteOp::OpenBuffer {
            pid,
            data: Arc::from(&b""[..]),
            flags: 0
        })),
        Errno::ESRCH
    );
}

/// Regression: `ResetVm` used to build the fresh address space *before*
/// checking the pid and drop it on the `ESRCH` path; `PageTable` has no
/// `Drop`, so every failed `ResetVm` leaked a root table frame per replica.
#[test]
fn reset_vm_on_dead_pid_does_not_leak_a_table() {
    let mut s = Sys::new();
    let pid = s.pid;
    let child = as_pid(s.w(WriteOp::Spawn {
        parent: pid,
        exe: vec![],
    }));
    as_frames(s.w(WriteOp::Exit {
        pid: child,
        status: 0,
    }));
    let live = s.mem.live_tables();
    assert_eq!(
        err(s.w(WriteOp::ResetVm {
            pid: child,
            exe: vec![]
        })),
        Errno::ESRCH
    );
    assert_eq!(
        err(s.w(WriteOp::ResetVm {
            pid: 999,
            exe: vec![]
        })),
        Errno::ESRCH
    );
    assert_eq!(s.mem.live_tables(), live, "table frames leaked");
}

/// Linux refuses most operations on `O_PATH` descriptors with `EBADF`
/// (`fdget()` does not return `FMODE_PATH` files): getdents64, ftruncate,
/// fcntl(F_SETFL). (Regression: kstate used to check read/write/lseek only.)
#[test]
fn o_path_descriptors_refuse_io_like_linux() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.create("/f", b"abc");
    let d = s.open("/", O_PATH | O_DIRECTORY);
    let f = s.open("/f", O_PATH);
    let t = s.now();
    assert_eq!(
        err(s.w(WriteOp::Getdents {
            pid,
            fd: d,
            bufsize: 4096
        })),
        Errno::EBADF,
        "getdents64 on O_PATH"
    );
    assert_eq!(
        err(s.w(WriteOp::Ftruncate {
            pid,
            fd: f,
            len: 0,
            now: t
        })),
        Errno::EBADF,
        "ftruncate on O_PATH"
    );
    assert_eq!(
        err(s.w(WriteOp::SetStatusFlags {
            pid,
            fd: f,
            flags: O_APPEND
        })),
        Errno::EBADF,
        "F_SETFL on O_PATH"
    );
}

/// Linux `fcntl(fd, F_DUPFD, arg)` looks the descriptor up before checking
/// `arg`: a bad fd with a bad minimum is `EBADF`.
#[test]
fn dup_checks_the_fd_before_the_minimum() {
    let mut s = Sys::new();
    assert_eq!(err(s.dup(55, -1, false)), Errno::EBADF);
    assert_eq!(err(s.dup(55, MAX_FDS, false)), Errno::EBADF);
}

/// Access mode 3 (`O_RDONLY|O_WRONLY|O_RDWR` bits both set) opens a file
/// with neither read nor write permission on Linux (used for ioctl-only
/// opens): read and write fail with `EBADF`.
#[test]
fn access_mode_3_neither_reads_nor_writes() {
    let mut s = Sys::new();
    s.create("/f", b"abc");
    let fd = s.open("/f", 3);
    assert_eq!(err(s.advance(fd, 1)), Errno::EBADF);
    assert_eq!(err(s.write(fd, b"x")), Errno::EBADF);
    assert_eq!(s.contents("/f"), b"abc");
}

/// On Linux the working directory holds a reference: after `rmdir` of the
/// cwd, `stat(".")` and `fstatat(AT_FDCWD, "", AT_EMPTY_PATH)` still work
/// (nlink 0). (Regression: the cwd used not to pin its inode.)
#[test]
fn removed_cwd_is_still_statable() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.mkdir("/d", 0o755);
    as_unit(s.w(WriteOp::Chdir {
        pid,
        dirfd: AT_FDCWD,
        path: b"/d".to_vec(),
    }));
    let t = s.now();
    as_unit(s.w(WriteOp::Unlink {
        pid,
        dirfd: AT_FDCWD,
        path: b"/d".to_vec(),
        rmdir: true,
        now: t,
    }));
    assert_eq!(
        err(s.r(ReadOp::Getcwd { pid })),
        Errno::ENOENT,
        "getcwd of a removed dir"
    );
    assert_eq!(
        s.try_open("x", O_CREAT | O_RDWR),
        Errno::ENOENT,
        "no creation in a removed dir"
    );
    let st = s
        .stat("")
        .expect("fstatat(AT_FDCWD, \"\", AT_EMPTY_PATH) on a removed cwd");
    assert_eq!(st.nlink, 0);
    assert!(s.stat(".").is_ok(), "stat(\".\") in a removed cwd");
}

/// The cwd reference is dropped when the process leaves the directory or
/// exits, so a removed directory is freed exactly then; children take their
/// own reference.
#[test]
fn cwd_reference_lifecycle() {
    let mut s = Sys::new();
    let pid = s.pid;
    let base = s.ks.fs().inode_count();
    s.mkdir("/d", 0o755);
    as_unit(s.w(WriteOp::Chdir {
        pid,
        dirfd: AT_FDCWD,
        path: b"/d".to_vec(),
    }));
    let child = as_pid(s.w(WriteOp::Spawn {
        parent: pid,
        exe: vec![],
    }));
    let t = s.now();
    as_unit(s.w(WriteOp::Unlink {
        pid,
        dirfd: AT_FDCWD,
        path: b"/d".to_vec(),
        rmdir: true,
        now: t,
    }));
    assert_eq!(
        s.ks.fs().inode_count(),
        base + 1,
        "held by two working directories"
    );
    // Re-entering the same directory must not change the count.
    as_unit(s.w(WriteOp::Chdir {
        pid,
        dirfd: AT_FDCWD,
        path: b".".to_vec(),
    }));
    as_unit(s.w(WriteOp::Chdir {
        pid,
        dirfd: AT_FDCWD,
        path: b"/".to_vec(),
    }));
    assert_eq!(s.ks.fs().inode_count(), base + 1, "still the child's cwd");
    as_frames(s.w(WriteOp::Exit {
        pid: child,
        status: 0,
    }));
    assert_eq!(
        s.ks.fs().inode_count(),
        base,
        "freed when the last cwd reference went away"
    );
    as_val(s.w(WriteOp::Reap { pid: child }));
    assert_eq!(s.ks.fs().inode_count(), base, "reap does not drop it twice");
    // Same through Fchdir and exit of the last holder.
    s.mkdir("/e", 0o755);
    let fd = s.open("/e", O_RDONLY | O_DIRECTORY);
    as_unit(s.w(WriteOp::Fchdir { pid, fd }));
    s.close(fd);
    as_unit(s.w(WriteOp::Unlink {
        pid,
        dirfd: AT_FDCWD,
        path: b"/e".to_vec(),
        rmdir: true,
        now: t,
    }));
    assert_eq!(s.ks.fs().inode_count(), base + 1);
    as_frames(s.w(WriteOp::Exit { pid, status: 0 }));
    assert_eq!(s.ks.fs().inode_count(), base);
    s.ks.fs().check_invariants().unwrap();
}

/// Linux: "if a file is opened with O_APPEND, pwrite() appends data to the
/// end of the file, regardless of the value of offset" (pwrite(2), BUGS);
/// the file offset does not move.
#[test]
fn pwrite_with_o_append_appends() {
    let mut s = Sys::new();
    let pid = s.pid;
    s.create("/f", b"abc");
    let fd = s.open("/f", O_RDWR | O_APPEND);
    let t = s.now();
    assert_eq!(
        as_val(s.w(WriteOp::WriteAt {
            pid,
            fd,
            offset: 0,
            data: Arc::new(b"XY".to_vec()),
            now: t
        })),
        2
    );
    assert_eq!(s.contents("/f"), b"abcXY");
    assert_eq!(s.offset(fd), 0, "pwrite does not move the offset");
    let plain = s.open("/f", O_RDWR);
    assert_eq!(
        as_val(s.w(WriteOp::WriteAt {
            pid,
            fd: plain,
            offset: 1,
            data: Arc::new(b"-".to_vec()),
            now: t
        })),
        1
    );
    assert_eq!(s.contents("/f"), b"a-cXY");
}

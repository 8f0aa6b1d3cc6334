//! A random generator of `WriteOp` sequences for one "actor" (a thread of
//! the test) driving its own processes.
//!
//! The generator's choices depend only on its seed and on the responses it
//! has observed (after [`normalize`]), never on global counters, so the same
//! seed replayed against a different interleaving of other actors produces
//! the same ops as long as the actor's namespace is private.

use std::sync::Arc;

use abi::errno::KResult;
use abi::flags::{
    AT_FDCWD, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC,
    O_WRONLY,
};
use kstate::{MapAt, Pid, ReadPlan, Resp, VmaKind, WriteOp};

use super::{now, Rng};

const PAGE: u64 = 4096;
const NAMES: &[&str] = &[
    "a", "b", "c", "d", "d/x", "d/y", "e", "e/f", "e/f/g", "ln", "d/z", "e/h",
];
const FILES: &[&str] = &["a", "b", "c", "d/x", "d/y", "e/f/g", "e/h", "e/f/i"];
const DIRS: &[&str] = &["d", "e", "e/f", "d/z"];

/// Tag of the frames an actor hands out: frames of actor `tag` are
/// `frame_base(tag) + k * 4096`.
pub fn frame_base(tag: u64) -> u64 {
    (tag + 1) << 36
}

pub struct Gen {
    pub rng: Rng,
    pub tag: u64,
    /// Directory the actor works in (private unless shared on purpose).
    pub root: String,
    /// Live processes of this actor (index 0: the main one).
    pub pids: Vec<Pid>,
    /// Zombies to reap.
    pub zombies: Vec<Pid>,
    /// Regions returned by mmap, per pid.
    pub maps: Vec<(Pid, u64, u64)>,
    pub brk_base: Vec<(Pid, u64)>,
    pub next_frame: u64,
    /// Descriptors returned by open/dup (possibly closed since).
    pub fds: Vec<(Pid, i32)>,
    /// Directory descriptors.
    pub dirfds: Vec<(Pid, i32)>,
    /// Descriptors opened for writing.
    pub wfds: Vec<(Pid, i32)>,
    pub t: i64,
    /// Whether ResetVm / Spawn of children are generated.
    pub lifecycle: bool,
}

impl Gen {
    pub fn new(tag: u64, seed: u64, root: &str) -> Self {
        Gen {
            rng: Rng(seed ^ (tag.wrapping_mul(0x9e37_79b9))),
            tag,
            root: root.to_string(),
            pids: Vec::new(),
            zombies: Vec::new(),
            maps: Vec::new(),
            brk_base: Vec::new(),
            next_frame: frame_base(tag),
            fds: Vec::new(),
            dirfds: Vec::new(),
            wfds: Vec::new(),
            t: 0,
            lifecycle: true,
        }
    }

    fn now(&mut self) -> kstate::Timespec {
        self.t += 1;
        now(self.t)
    }

    /// The first op: spawn the main process.
    pub fn spawn_main(&self) -> WriteOp {
        WriteOp::Spawn {
            parent: 0,
            exe: format!("/bin/actor{}", self.tag).into_bytes(),
        }
    }

    /// Ops that create the actor's directory (before `next`).
    pub fn setup(&mut self) -> Vec<WriteOp> {
        let pid = self.pids[0];
        let t = self.now();
        let mut v = vec![WriteOp::Mkdir {
            pid,
            dirfd: AT_FDCWD,
            path: self.root.clone().into_bytes(),
            mode: 0o755,
            now: t,
        }];
        for d in &DIRS[..3] {
            v.push(WriteOp::Mkdir {
                pid,
                dirfd: AT_FDCWD,
                path: format!("{}/{d}", self.root).into_bytes(),
                mode: 0o755,
                now: t,
            });
        }
        v.push(WriteOp::SetBrkStart {
            pid,
            addr: 0x1000_0000,
        });
        v
    }

    fn pid(&mut self) -> Pid {
        if self.pids.len() > 1 && self.rng.chance(30) {
            let i = 1 + self.rng.below(self.pids.len() as u64 - 1) as usize;
            self.pids[i]
        } else {
            self.pids[0]
        }
    }

    fn path(&mut self) -> Vec<u8> {
        let n = *self.rng.pick(NAMES);
        self.path_in(n)
    }

    fn file_path(&mut self) -> Vec<u8> {
        let n = if self.rng.chance(80) {
            *self.rng.pick(FILES)
        } else {
            *self.rng.pick(NAMES)
        };
        self.path_in(n)
    }

    fn dir_path(&mut self) -> Vec<u8> {
        let n = if self.rng.chance(80) {
            *self.rng.pick(DIRS)
        } else {
            *self.rng.pick(NAMES)
        };
        self.path_in(n)
    }

    fn path_in(&mut self, n: &str) -> Vec<u8> {
        if self.rng.chance(5) {
            return format!("{}/nope/{n}", self.root).into_bytes();
        }
        format!("{}/{n}", self.root).into_bytes()
    }

    fn fd(&mut self) -> i32 {
        if self.rng.chance(3) {
            return [-1, 1023, 1024][self.rng.below(3) as usize];
        }
        if !self.fds.is_empty() && self.rng.chance(80) {
            return self.rng.pick(&self.fds).1;
        }
        self.rng.below(8) as i32
    }

    fn data(&mut self) -> Arc<Vec<u8>> {
        let len = match self.rng.below(10) {
            0 => 0,
            1..=6 => self.rng.below(64),
            _ => self.rng.below(9000),
        } as usize;
        let b = self.rng.next() as u8;
        Arc::new(
            (0..len)
                .map(|i| b.wrapping_add(i as u8))
                .collect::<Vec<u8>>(),
        )
    }

    /// An address near something the process has mapped.
    fn addr(&mut self, pid: Pid) -> u64 {
        if self.rng.chance(25) {
            if let Some(&(_, base)) = self.brk_base.iter().find(|b| b.0 == pid) {
                return base + self.rng.below(24) * PAGE;
            }
        }
        let mine: Vec<(u64, u64)> = self
            .maps
            .iter()
            .filter(|m| m.0 == pid)
            .map(|m| (m.1, m.2))
            .collect();
        if mine.is_empty() || self.rng.chance(8) {
            return match self.rng.below(4) {
                0 => 0x1000_0000 + self.rng.below(32) * PAGE,
                1 => 0x7f00_0000_0000 - self.rng.below(64) * PAGE,
                2 => 0x5555_0000_0000 + self.rng.below(16) * PAGE,
                _ => self.rng.below(1 << 47) & !(PAGE - 1),
            };
        }
        let (a, l) = *self.rng.pick(&mine);
        let pages = l.div_ceil(PAGE).max(1);
        let off = self.rng.below(pages + 2) as i64 - 1;
        (a as i64 + off * PAGE as i64) as u64
    }

    fn len(&mut self) -> u64 {
        match self.rng.below(10) {
            0 => self.rng.below(3 * PAGE) + 1,
            1 => 0,
            _ => (1 + self.rng.below(8)) * PAGE,
        }
    }

    fn prot(&mut self) -> u32 {
        if self.rng.chance(3) {
            return 8;
        }
        [0, 1, 3, 3, 3, 5, 7][self.rng.below(7) as usize]
    }

    fn kind(&mut self) -> VmaKind {
        match self.rng.below(7) {
            0 => VmaKind::Stack,
            1 => VmaKind::File {
                ino: 7 + self.tag,
                offset: self.rng.below(4) * PAGE,
            },
            2 => VmaKind::Shared,
            _ => VmaKind::Anon,
        }
    }

    /// The next op to apply.
    pub fn next(&mut self) -> WriteOp {
        let pid = self.pid();
        let r = self.rng.below(1000);
        match r {
            0..=79 => {
                let dir = self.rng.chance(15);
                let mut flags = if dir {
                    O_RDONLY | O_DIRECTORY
                } else {
                    *self.rng.pick(&[O_RDONLY, O_WRONLY, O_RDWR, O_RDWR])
                };
                for (f, pct) in [
                    (O_CREAT, 50),
                    (O_TRUNC, 10),
                    (O_APPEND, 15),
                    (O_CLOEXEC, 20),
                    (O_EXCL, 5),
                    (O_DIRECTORY, 3),
                ] {
                    if self.rng.chance(pct) {
                        flags |= f;
                    }
                }
                let path = if dir {
                    self.dir_path()
                } else {
                    self.file_path()
                };
                let t = self.now();
                WriteOp::Open {
                    pid,
                    dirfd: AT_FDCWD,
                    path,
                    flags,
                    mode: 0o644,
                    now: t,
                }
            }
            80..=99 => {
                let n = *self.rng.pick(&["d", "e", "e/f"]);
                let dirfd = self.fd();
                let t = self.now();
                let path = if self.rng.chance(50) {
                    format!("{}/{n}", self.root).into_bytes()
                } else {
                    b"x".to_vec()
                };
                WriteOp::Open {
                    pid,
                    dirfd,
                    path,
                    flags: O_RDONLY | O_CREAT,
                    mode: 0o600,
                    now: t,
                }
            }
            100..=129 => {
                let fd = self.fd();
                WriteOp::Close { pid, fd }
            }
            130..=199 => {
                let fd = if !self.wfds.is_empty() && self.rng.chance(60) {
                    self.rng.pick(&self.wfds).1
                } else {
                    self.fd()
                };
                let data = self.data();
                let t = self.now();
                if self.rng.chance(25) {
                    let offset = self.rng.below(20000);
                    WriteOp::WriteAt {
                        pid,
                        fd,
                        offset,
                        data,
                        now: t,
                    }
                } else {
                    WriteOp::Write {
                        pid,
                        fd,
                        data,
                        now: t,
                    }
                }
            }
            200..=229 => {
                let fd = self.fd();
                let whence = self.rng.below(4) as u32;
                let offset = self.rng.below(12000) as i64 - 2000;
                WriteOp::Seek {
                    pid,
                    fd,
                    offset,
                    whence,
                }
            }
            230..=259 => {
                let fd = self.fd();
                let len = self.rng.below(10000);
                WriteOp::ReadAdvance { pid, fd, len }
            }
            260..=279 => {
                let fd = self.fd();
                let min = self.rng.below(10) as i32;
                let cloexec = self.rng.chance(50);
                WriteOp::Dup {
                    pid,
                    fd,
                    min,
                    cloexec,
                }
            }
            280..=294 => {
                let old = self.fd();
                let new = self.fd();
                let cloexec = self.rng.chance(50);
                WriteOp::Dup2 {
                    pid,
                    old,
                    new,
                    cloexec,
                }
            }
            295..=304 => {
                let fd = self.fd();
                let cloexec = self.rng.chance(50);
                WriteOp::SetCloexec { pid, fd, cloexec }
            }
            305..=314 => {
                let fd = self.fd();
                let flags = if self.rng.chance(50) { O_APPEND } else { 0 };
                WriteOp::SetStatusFlags { pid, fd, flags }
            }
            315..=334 => {
                let fd = if !self.dirfds.is_empty() && self.rng.chance(80) {
                    self.rng.pick(&self.dirfds).1
                } else {
                    self.fd()
                };
                let bufsize = self.rng.below(200);
                WriteOp::Getdents { pid, fd, bufsize }
            }
            335..=364 => {
                let path = self.dir_path();
                let t = self.now();
                WriteOp::Mkdir {
                    pid,
                    dirfd: AT_FDCWD,
                    path,
                    mode: 0o755,
                    now: t,
                }
            }
            365..=394 => {
                let rmdir = self.rng.chance(30);
                let path = if rmdir {
                    self.dir_path()
                } else {
                    self.file_path()
                };
                let t = self.now();
                WriteOp::Unlink {
                    pid,
                    dirfd: AT_FDCWD,
                    path,
                    rmdir,
                    now: t,
                }
            }
            395..=424 => {
                let (old, new) = if self.rng.chance(70) {
                    (self.file_path(), self.file_path())
                } else {
                    (self.path(), self.path())
                };
                let t = self.now();
                WriteOp::Rename {
                    pid,
                    olddirfd: AT_FDCWD,
                    old,
                    newdirfd: AT_FDCWD,
                    new,
                    now: t,
                }
            }
            425..=434 => {
                let old = self.file_path();
                let new = self.file_path();
                let t = self.now();
                WriteOp::Link {
                    pid,
                    olddirfd: AT_FDCWD,
                    old,
                    newdirfd: AT_FDCWD,
                    new,
                    now: t,
                }
            }
            435..=444 => {
                let target = (*self.rng.pick(NAMES)).as_bytes().to_vec();
                let path = self.file_path();
                let t = self.now();
                WriteOp::Symlink {
                    pid,
                    target,
                    dirfd: AT_FDCWD,
                    path,
                    now: t,
                }
            }
            445..=459 => {
                let t = self.now();
                let len = self.rng.below(10000);
                if self.rng.chance(50) {
                    let path = self.path();
                    WriteOp::Truncate {
                        pid,
                        dirfd: AT_FDCWD,
                        path,
                        len,
                        now: t,
                    }
                } else {
                    let fd = self.fd();
                    WriteOp::Ftruncate {
                        pid,
                        fd,
                        len,
                        now: t,
                    }
                }
            }
            460..=469 => {
                let path = self.path();
                let t = self.now();
                let mode = self.rng.below(0o1000) as u32;
                WriteOp::Chmod {
                    pid,
                    dirfd: AT_FDCWD,
                    path,
                    mode,
                    now: t,
                }
            }
            470..=479 => {
                let path = if self.rng.chance(30) {
                    self.root.clone().into_bytes()
                } else {
                    self.path()
                };
                if self.rng.chance(50) {
                    WriteOp::Chdir {
                        pid,
                        dirfd: AT_FDCWD,
                        path,
                    }
                } else {
                    let fd = if !self.dirfds.is_empty() && self.rng.chance(70) {
                        self.rng.pick(&self.dirfds).1
                    } else {
                        self.fd()
                    };
                    WriteOp::Fchdir { pid, fd }
                }
            }
            480..=484 => {
                let mask = self.rng.below(0o1000) as u32;
                WriteOp::Umask { pid, mask }
            }
            485..=489 => {
                let path = self.path();
                let t = self.now();
                let atime = Some(self.now());
                WriteOp::Utimens {
                    pid,
                    dirfd: AT_FDCWD,
                    path,
                    atime,
                    mtime: None,
                    follow: true,
                    now: t,
                }
            }
            490..=494 => {
                let data = self.data();
                let flags = if self.rng.chance(50) { O_CLOEXEC } else { 0 };
                WriteOp::OpenBuffer {
                    pid,
                    data: Arc::from(&data[..]),
                    flags,
                }
            }
            495..=584 => {
                let at = match self.rng.below(5) {
                    0 | 1 => MapAt::Any,
                    2 => MapAt::Hint(self.addr(pid)),
                    3 => MapAt::Fixed(self.addr(pid)),
                    _ => MapAt::FixedNoReplace(self.addr(pid)),
                };
                let len = self.len();
                let prot = self.prot();
                let kind = self.kind();
                WriteOp::Mmap {
                    pid,
                    at,
                    len,
                    prot,
                    kind,
                }
            }
            585..=624 => {
                let start = self.addr(pid);
                let len = self.len();
                WriteOp::Munmap { pid, start, len }
            }
            625..=654 => {
                let start = self.addr(pid);
                let len = self.len();
                let prot = self.prot();
                WriteOp::Mprotect {
                    pid,
                    start,
                    len,
                    prot,
                }
            }
            655..=669 => {
                let start = self.addr(pid);
                let len = self.len();
                WriteOp::Discard { pid, start, len }
            }
            670..=699 => {
                let base = self
                    .brk_base
                    .iter()
                    .find(|b| b.0 == pid)
                    .map_or(0x1000_0000, |b| b.1);
                let addr = match self.rng.below(5) {
                    0 => 0,
                    1 => base - PAGE,
                    _ => base + self.rng.below(20 * PAGE),
                };
                WriteOp::Brk { pid, addr }
            }
            700..=899 => {
                let n = 1 + self.rng.below(6);
                let mut pages = Vec::new();
                for _ in 0..n {
                    let va = if self.rng.chance(10) {
                        self.rng.below(1 << 47)
                    } else {
                        self.addr(pid) + self.rng.below(PAGE)
                    };
                    let frame = self.next_frame;
                    self.next_frame += PAGE;
                    pages.push((va, frame));
                }
                if self.rng.chance(5) {
                    // A frame twice in one op: the second is AlreadyPresent or another page.
                    let va = pages[0].0;
                    let frame = self.next_frame;
                    self.next_frame += PAGE;
                    pages.push((va, frame));
                }
                WriteOp::Populate { pid, pages }
            }
            900..=929 if self.lifecycle => {
                if self.pids.len() < 3 && self.rng.chance(50) {
                    WriteOp::Fork { parent: pid }
                } else if self.rng.chance(30) {
                    WriteOp::ForkDone { pid }
                } else if self.pids.len() < 3 {
                    WriteOp::Spawn {
                        parent: self.pids[0],
                        exe: b"/bin/child".to_vec(),
                    }
                } else {
                    let victim = self.pids[1 + self.rng.below(self.pids.len() as u64 - 1) as usize];
                    WriteOp::Exit {
                        pid: victim,
                        status: self.rng.below(256) as i32,
                    }
                }
            }
            930..=944 if self.lifecycle => match self.zombies.first() {
                Some(&z) => WriteOp::Reap { pid: z },
                None => WriteOp::Reap { pid: self.pids[0] },
            },
            945..=954 if self.lifecycle => {
                let exe = b"/bin/exec".to_vec();
                WriteOp::ResetVm { pid, exe }
            }
            955..=964 => {
                let addr = 0x1000_0000 + self.rng.below(4) * PAGE;
                WriteOp::SetBrkStart { pid, addr }
            }
            _ => {
                let t = self.now();
                let path = self.file_path();
                let mode = *self.rng.pick(&[0o100644, 0o020666, 0o010600, 0o040755]);
                WriteOp::Mknod {
                    pid,
                    dirfd: AT_FDCWD,
                    path,
                    mode,
                    rdev: kstate::dev::NULL,
                    now: t,
                }
            }
        }
    }

    /// Learns from the response to `op`.
    pub fn observe(&mut self, op: &WriteOp, r: &KResult<Resp>) {
        match (op, r) {
            (WriteOp::Spawn { .. } | WriteOp::Fork { .. }, Ok(Resp::Pid(p))) => {
                self.pids.push(*p);
            }
            (WriteOp::Open { pid, flags, .. }, Ok(Resp::Fd(fd))) if flags & O_DIRECTORY != 0 => {
                self.dirfds.push((*pid, *fd));
                if self.dirfds.len() > 6 {
                    self.dirfds.remove(0);
                }
            }
            (WriteOp::Open { pid, flags, .. }, Ok(Resp::Fd(fd))) if flags & 3 != O_RDONLY => {
                self.wfds.push((*pid, *fd));
                if self.wfds.len() > 6 {
                    self.wfds.remove(0);
                }
                self.fds.push((*pid, *fd));
            }
            (
                WriteOp::Open { pid, .. }
                | WriteOp::Dup { pid, .. }
                | WriteOp::Dup2 { pid, .. }
                | WriteOp::OpenBuffer { pid, .. },
                Ok(Resp::Fd(fd)),
            ) => {
                self.fds.push((*pid, *fd));
                if self.fds.len() > 12 {
                    self.fds.remove(0);
                }
            }
            (WriteOp::Mmap { pid, len, .. }, Ok(Resp::Mapped(a, _))) => {
                self.maps.push((*pid, *a, *len));
                if self.maps.len() > 40 {
                    self.maps.remove(0);
                }
            }
            (WriteOp::SetBrkStart { pid, addr }, Ok(_)) => {
                self.brk_base.retain(|b| b.0 != *pid);
                self.brk_base.push((*pid, *addr));
            }
            (WriteOp::ResetVm { pid, .. }, Ok(_)) => {
                self.maps.retain(|m| m.0 != *pid);
                self.brk_base.retain(|b| b.0 != *pid);
            }
            (WriteOp::Exit { pid, .. }, Ok(_)) => {
                self.pids.retain(|p| p != pid);
                self.maps.retain(|m| m.0 != *pid);
                self.zombies.push(*pid);
            }
            (WriteOp::Reap { pid }, Ok(_)) => {
                self.zombies.retain(|p| p != pid);
            }
            _ => {}
        }
    }

    /// Ops that end every process of the actor.
    pub fn teardown(&self) -> Vec<WriteOp> {
        let mut v: Vec<WriteOp> = self
            .pids
            .iter()
            .map(|&pid| WriteOp::Exit { pid, status: 0 })
            .collect();
        v.extend(
            self.pids
                .iter()
                .chain(&self.zombies)
                .map(|&pid| WriteOp::Reap { pid }),
        );
        v
    }
}

/// A response with the parts that depend on other actors (pids, inode
/// numbers) removed.
pub fn normalize(r: &KResult<Resp>) -> String {
    match r {
        Ok(Resp::Pid(_)) => "Pid".to_string(),
        Ok(Resp::Read(ReadPlan::Inode { offset, n, .. })) => format!("ReadInode({offset}, {n})"),
        Ok(Resp::Dirents(v)) => {
            format!(
                "Dirents({:?})",
                v.iter()
                    .map(|(e, c)| (e.kind, String::from_utf8_lossy(&e.name).into_owned(), *c))
                    .collect::<Vec<_>>()
            )
        }
        other => format!("{other:?}"),
    }
}

//! Property tests: random operation sequences against a naive model, plus
//! clone / determinism / hashing properties.
//!
//! The model is deliberately built differently from `memfs`: a flat map from
//! full canonical paths to entries (no inodes, no parent pointers), with
//! symbolic links resolved by textual expansion of the remaining path.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use memfs::*;
use proptest::prelude::*;

type Name = Vec<u8>;
type MPath = Vec<Name>;

// ---------------------------------------------------------------------------
// Operations

#[derive(Clone, Debug)]
enum Op {
    Mkdir(String),
    Create {
        path: String,
        excl: bool,
        trunc: bool,
    },
    Write {
        path: String,
        off: u64,
        len: usize,
        byte: u8,
    },
    Truncate {
        path: String,
        len: u64,
    },
    Unlink(String),
    Rmdir(String),
    Rename(String, String),
    Link(String, String),
    Symlink {
        target: String,
        path: String,
    },
    Lookup {
        path: String,
        follow: bool,
    },
    Readlink(String),
    Read {
        path: String,
        off: u64,
        len: usize,
    },
    /// Open for writing and pin (keep an "fd").
    Hold(String),
    WriteHeld {
        idx: usize,
        off: u64,
        len: usize,
        byte: u8,
    },
    TruncateHeld {
        idx: usize,
        len: u64,
    },
    Release(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Out {
    Unit,
    Kind(FileType),
    Bytes(Vec<u8>),
}

fn name() -> impl Strategy<Value = String> {
    // Skewed, so that random paths often name things that exist.
    prop_oneof![5 => Just("a".to_string()), 3 => Just("b".to_string()), 2 => Just("c".to_string())]
}

fn path() -> impl Strategy<Value = String> {
    // Shallow paths are likelier, so that operations mostly find their parents.
    let comps = prop_oneof![5 => prop::collection::vec(name(), 1..=1), 4 => prop::collection::vec(name(), 2..=2), 2 => prop::collection::vec(name(), 3..=3)];
    (comps, any::<bool>()).prop_map(|(v, abs)| {
        let p = v.join("/");
        if abs {
            format!("/{p}")
        } else {
            p
        }
    })
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => path(),
        1 => Just("..".to_string()),
        1 => Just(".".to_string()),
        1 => path().prop_map(|p| format!("../{}", p.trim_start_matches('/'))),
        1 => path().prop_map(|p| format!("{}/..", p)),
        1 => Just("/".to_string()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let off = prop_oneof![0..10u64, 4090..4100u64, 0..13000u64];
    let len = prop_oneof![0..10usize, 0..5000usize];
    prop_oneof![
        4 => path().prop_map(Op::Mkdir),
        4 => (path(), any::<bool>(), any::<bool>()).prop_map(|(path, excl, trunc)| Op::Create { path, excl, trunc }),
        3 => (path(), off.clone(), len.clone(), 1..=255u8).prop_map(|(path, off, len, byte)| Op::Write { path, off, len, byte }),
        1 => (path(), prop_oneof![0..10u64, 0..13000u64]).prop_map(|(path, len)| Op::Truncate { path, len }),
        2 => path().prop_map(Op::Unlink),
        2 => path().prop_map(Op::Rmdir),
        3 => (path(), path()).prop_map(|(a, b)| Op::Rename(a, b)),
        2 => (path(), path()).prop_map(|(a, b)| Op::Link(a, b)),
        1 => (target(), path()).prop_map(|(target, path)| Op::Symlink { target, path }),
        1 => (path(), any::<bool>()).prop_map(|(path, follow)| Op::Lookup { path, follow }),
        1 => path().prop_map(Op::Readlink),
        1 => (path(), off.clone(), len.clone()).prop_map(|(path, off, len)| Op::Read { path, off, len }),
        2 => path().prop_map(Op::Hold),
        1 => (any::<usize>(), off, len, 1..=255u8).prop_map(|(idx, off, len, byte)| Op::WriteHeld { idx, off, len, byte }),
        1 => (any::<usize>(), 0..9000u64).prop_map(|(idx, len)| Op::TruncateHeld { idx, len }),
        1 => any::<usize>().prop_map(Op::Release),
    ]
}

// ---------------------------------------------------------------------------
// The model

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    Obj(u32),
}

#[derive(Clone, Debug)]
enum Obj {
    File(Vec<u8>),
    Link(Vec<u8>),
}

enum MLast {
    Root,
    Dot,
    DotDot,
    Name(Name),
}

#[derive(Clone)]
struct Model {
    tree: BTreeMap<MPath, Entry>,
    objs: BTreeMap<u32, Obj>,
    next: u32,
    held: Vec<u32>,
}

fn split(p: &[u8]) -> Vec<Name> {
    p.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn join(p: &[Name], n: &[u8]) -> MPath {
    let mut v = p.to_vec();
    v.push(n.to_vec());
    v
}

fn write_vec(data: &mut Vec<u8>, off: u64, len: usize, byte: u8) {
    if len == 0 {
        return;
    }
    let end = off as usize + len;
    if data.len() < end {
        data.resize(end, 0);
    }
    data[off as usize..end].fill(byte);
}

impl Model {
    fn new() -> Model {
        let mut tree = BTreeMap::new();
        tree.insert(vec![], Entry::Dir);
        Model {
            tree,
            objs: BTreeMap::new(),
            next: 0,
            held: Vec::new(),
        }
    }

    fn link_target(&self, p: &MPath) -> Option<Vec<u8>> {
        match self.tree.get(p) {
            Some(Entry::Obj(id)) => match &self.objs[id] {
                Obj::Link(t) => Some(t.clone()),
                Obj::File(_) => None,
            },
            _ => None,
        }
    }

    fn has_children(&self, p: &MPath) -> bool {
        self.tree
            .keys()
            .any(|k| k.len() == p.len() + 1 && k.starts_with(p))
    }

    /// Resolves all but the last component by expanding symlinks textually.
    fn walk(&self, start: &MPath, path: &[u8], hops: &mut u32) -> Result<(MPath, MLast), Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let mut cur = if path[0] == b'/' {
            vec![]
        } else {
            start.clone()
        };
        let mut todo: VecDeque<Name> = split(path).into();
        if todo.is_empty() {
            return Ok((vec![], MLast::Root));
        }
        loop {
            let c = todo.pop_front().unwrap();
            if todo.is_empty() {
                let last = match c.as_slice() {
                    b"." => MLast::Dot,
                    b".." => MLast::DotDot,
                    _ => MLast::Name(c),
                };
                return Ok((cur, last));
            }
            match c.as_slice() {
                b"." => {}
                b".." => {
                    cur.pop();
                }
                _ => {
                    let child = join(&cur, &c);
                    match self.tree.get(&child) {
                        None => return Err(Errno::ENOENT),
                        Some(Entry::Dir) => cur = child,
                        Some(Entry::Obj(_)) => {
                            let Some(t) = self.link_target(&child) else {
                                return Err(Errno::ENOTDIR);
                            };
                            *hops += 1;
                            if *hops > 40 {
                                return Err(Errno::ELOOP);
                            }
                            for x in split(&t).into_iter().rev() {
                                todo.push_front(x);
                            }
                            if t[0] == b'/' {
                                cur = vec![];
                            }
                        }
                    }
                }
            }
        }
    }

    fn resolve(
        &self,
        start: &MPath,
        path: &[u8],
        follow: bool,
        hops: &mut u32,
    ) -> Result<MPath, Errno> {
        let (dir, last) = self.walk(start, path, hops)?;
        let p = match last {
            MLast::Root => vec![],
            MLast::Dot => dir.clone(),
            MLast::DotDot => {
                let mut d = dir.clone();
                d.pop();
                d
            }
            MLast::Name(n) => {
                let c = join(&dir, &n);
                if !self.tree.contains_key(&c) {
                    return Err(Errno::ENOENT);
                }
                c
            }
        };
        if follow {
            if let Some(t) = self.link_target(&p) {
                *hops += 1;
                if *hops > 40 {
                    return Err(Errno::ELOOP);
                }
                return self.resolve(&dir, &t, true, hops);
            }
        }
        Ok(p)
    }

    fn lookup(&self, path: &str, follow: bool) -> Result<MPath, Errno> {
        self.resolve(&vec![], path.as_bytes(), follow, &mut 0)
    }

    fn new_obj(&mut self, o: Obj) -> u32 {
        let id = self.next;
        self.next += 1;
        self.objs.insert(id, o);
        id
    }

    fn file_mut(&mut self, p: &MPath) -> Result<&mut Vec<u8>, Errno> {
        match self.tree.get(p) {
            Some(Entry::Dir) => Err(Errno::EISDIR),
            Some(Entry::Obj(id)) => match self.objs.get_mut(id).unwrap() {
                Obj::File(d) => Ok(d),
                Obj::Link(_) => unreachable!("followed"),
            },
            None => unreachable!("resolved"),
        }
    }

    /// Parent + new name for mkdir/symlink/link.
    fn create_slot(&self, path: &str) -> Result<MPath, Errno> {
        let (dir, last) = self.walk(&vec![], path.as_bytes(), &mut 0)?;
        let MLast::Name(n) = last else {
            return Err(Errno::EEXIST);
        };
        let c = join(&dir, &n);
        if self.tree.contains_key(&c) {
            return Err(Errno::EEXIST);
        }
        Ok(c)
    }

    fn apply(&mut self, op: &Op) -> Result<Out, Errno> {
        match op {
            Op::Mkdir(p) => {
                let c = self.create_slot(p)?;
                self.tree.insert(c, Entry::Dir);
                Ok(Out::Unit)
            }
            Op::Create { path, excl, trunc } => {
                let mut hops = 0;
                let mut start = vec![];
                let mut p = path.as_bytes().to_vec();
                loop {
                    let (dir, last) = self.walk(&start, &p, &mut hops)?;
                    let c = match last {
                        MLast::Name(n) => join(&dir, &n),
                        _ => return Err(if *excl { Errno::EEXIST } else { Errno::EISDIR }),
                    };
                    match self.tree.get(&c) {
                        None => {
                            let id = self.new_obj(Obj::File(vec![]));
                            self.tree.insert(c, Entry::Obj(id));
                            return Ok(Out::Unit);
                        }
                        Some(_) if *excl => return Err(Errno::EEXIST),
                        Some(Entry::Dir) => return Err(Errno::EISDIR),
                        Some(Entry::Obj(_)) => {
                            if let Some(t) = self.link_target(&c) {
                                hops += 1;
                                if hops > 40 {
                                    return Err(Errno::ELOOP);
                                }
                                start = dir;
                                p = t;
                                continue;
                            }
                            if *trunc {
                                self.file_mut(&c)?.clear();
                            }
                            return Ok(Out::Unit);
                        }
                    }
                }
            }
            Op::Write {
                path,
                off,
                len,
                byte,
            } => {
                let p = self.lookup(path, true)?;
                write_vec(self.file_mut(&p)?, *off, *len, *byte);
                Ok(Out::Unit)
            }
            Op::Truncate { path, len } => {
                let p = self.lookup(path, true)?;
                self.file_mut(&p)?.resize(*len as usize, 0);
                Ok(Out::Unit)
            }
            Op::Read { path, off, len } => {
                let p = self.lookup(path, true)?;
                let d = self.file_mut(&p)?;
                let start = (*off as usize).min(d.len());
                let end = (start + len).min(d.len());
                Ok(Out::Bytes(d[start..end].to_vec()))
            }
            Op::Unlink(p) => {
                let (dir, last) = self.walk(&vec![], p.as_bytes(), &mut 0)?;
                let MLast::Name(n) = last else {
                    return Err(Errno::EISDIR);
                };
                let c = join(&dir, &n);
                match self.tree.get(&c) {
                    None => Err(Errno::ENOENT),
                    Some(Entry::Dir) => Err(Errno::EISDIR),
                    Some(Entry::Obj(_)) => {
                        self.tree.remove(&c);
                        Ok(Out::Unit)
                    }
                }
            }
            Op::Rmdir(p) => {
                let (dir, last) = self.walk(&vec![], p.as_bytes(), &mut 0)?;
                let n = match last {
                    MLast::Name(n) => n,
                    MLast::Dot => return Err(Errno::EINVAL),
                    MLast::DotDot => return Err(Errno::ENOTEMPTY),
                    MLast::Root => return Err(Errno::EBUSY),
                };
                let c = join(&dir, &n);
                match self.tree.get(&c) {
                    None => Err(Errno::ENOENT),
                    Some(Entry::Obj(_)) => Err(Errno::ENOTDIR),
                    Some(Entry::Dir) if self.has_children(&c) => Err(Errno::ENOTEMPTY),
                    Some(Entry::Dir) => {
                        self.tree.remove(&c);
                        Ok(Out::Unit)
                    }
                }
            }
            Op::Rename(o, n) => {
                let (od, ol) = self.walk(&vec![], o.as_bytes(), &mut 0)?;
                let (nd, nl) = self.walk(&vec![], n.as_bytes(), &mut 0)?;
                let (MLast::Name(on), MLast::Name(nn)) = (ol, nl) else {
                    return Err(Errno::EBUSY);
                };
                let op = join(&od, &on);
                let np = join(&nd, &nn);
                let Some(src) = self.tree.get(&op).cloned() else {
                    return Err(Errno::ENOENT);
                };
                let dst = self.tree.get(&np).cloned();
                if od.len() < nd.len() && nd.starts_with(&od) {
                    // old dir is a proper ancestor of new dir
                    if nd.starts_with(&op) {
                        return Err(Errno::EINVAL);
                    }
                } else if nd.len() < od.len() && od.starts_with(&nd) && od.starts_with(&np) {
                    return Err(Errno::ENOTEMPTY);
                }
                if op == np || (matches!(src, Entry::Obj(_)) && dst == Some(src.clone())) {
                    return Ok(Out::Unit);
                }
                let src_dir = src == Entry::Dir;
                match &dst {
                    Some(Entry::Dir) if !src_dir => return Err(Errno::EISDIR),
                    Some(Entry::Obj(_)) if src_dir => return Err(Errno::ENOTDIR),
                    Some(Entry::Dir) if self.has_children(&np) => return Err(Errno::ENOTEMPTY),
                    _ => {}
                }
                self.tree.remove(&np);
                let moved: Vec<(MPath, Entry)> = self
                    .tree
                    .range(op.clone()..)
                    .take_while(|(k, _)| k.starts_with(&op))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for (k, _) in &moved {
                    self.tree.remove(k);
                }
                for (k, v) in moved {
                    let mut nk = np.clone();
                    nk.extend_from_slice(&k[op.len()..]);
                    self.tree.insert(nk, v);
                }
                Ok(Out::Unit)
            }
            Op::Link(o, n) => {
                let src = self.lookup(o, false)?;
                let c = self.create_slot(n)?;
                match self.tree[&src].clone() {
                    Entry::Dir => Err(Errno::EPERM),
                    e @ Entry::Obj(_) => {
                        self.tree.insert(c, e);
                        Ok(Out::Unit)
                    }
                }
            }
            Op::Symlink { target, path } => {
                let c = self.create_slot(path)?;
                let id = self.new_obj(Obj::Link(target.as_bytes().to_vec()));
                self.tree.insert(c, Entry::Obj(id));
                Ok(Out::Unit)
            }
            Op::Lookup { path, follow } => {
                let p = self.lookup(path, *follow)?;
                Ok(Out::Kind(match &self.tree[&p] {
                    Entry::Dir => FileType::Directory,
                    Entry::Obj(id) => match self.objs[id] {
                        Obj::File(_) => FileType::Regular,
                        Obj::Link(_) => FileType::Symlink,
                    },
                }))
            }
            Op::Readlink(path) => {
                let p = self.lookup(path, false)?;
                match self.link_target(&p) {
                    Some(t) => Ok(Out::Bytes(t)),
                    None => Err(Errno::EINVAL),
                }
            }
            Op::Hold(path) => {
                let p = self.lookup(path, true)?;
                self.file_mut(&p)?;
                let Entry::Obj(id) = self.tree[&p] else {
                    unreachable!()
                };
                self.held.push(id);
                Ok(Out::Unit)
            }
            Op::WriteHeld {
                idx,
                off,
                len,
                byte,
            } => {
                if let Some(&id) = self.held.get(idx % self.held.len().max(1)) {
                    let Obj::File(d) = self.objs.get_mut(&id).unwrap() else {
                        unreachable!()
                    };
                    write_vec(d, *off, *len, *byte);
                }
                Ok(Out::Unit)
            }
            Op::TruncateHeld { idx, len } => {
                if let Some(&id) = self.held.get(idx % self.held.len().max(1)) {
                    let Obj::File(d) = self.objs.get_mut(&id).unwrap() else {
                        unreachable!()
                    };
                    d.resize(*len as usize, 0);
                }
                Ok(Out::Unit)
            }
            Op::Release(idx) => {
                if !self.held.is_empty() {
                    let i = idx % self.held.len();
                    self.held.remove(i);
                }
                Ok(Out::Unit)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The system under test

#[derive(Clone)]
struct Sut {
    fs: Fs,
    held: Vec<Ino>,
    clock: i64,
}

const R: Ino = Fs::ROOT;

impl Sut {
    fn new() -> Sut {
        Sut {
            fs: Fs::new(Timespec::new(0, 0)),
            held: Vec::new(),
            clock: 0,
        }
    }

    fn apply(&mut self, op: &Op) -> Result<Out, Errno> {
        self.clock += 1;
        let now = Timespec::new(self.clock, 7);
        let fs = &mut self.fs;
        let unit = |r: KResult<()>| r.map(|()| Out::Unit);
        match op {
            Op::Mkdir(p) => fs
                .mkdir(R, p.as_bytes(), 0o755, 0o022, now)
                .map(|_| Out::Unit),
            Op::Create { path, excl, trunc } => {
                let flags = O_CREAT
                    | O_WRONLY
                    | if *excl { O_EXCL } else { 0 }
                    | if *trunc { O_TRUNC } else { 0 };
                fs.open(R, path.as_bytes(), flags, 0o644, 0o022, now)
                    .map(|_| Out::Unit)
            }
            Op::Write {
                path,
                off,
                len,
                byte,
            } => {
                let ino = fs.open(R, path.as_bytes(), O_WRONLY, 0, 0, now)?;
                let n = fs.write(ino, *off, &vec![*byte; *len], now)?;
                assert_eq!(n, *len);
                Ok(Out::Unit)
            }
            Op::Truncate { path, len } => {
                let ino = fs.open(R, path.as_bytes(), O_WRONLY, 0, 0, now)?;
                unit(fs.truncate(ino, *len, now))
            }
            Op::Read { path, off, len } => {
                let ino = fs.open(R, path.as_bytes(), O_RDONLY, 0, 0, now)?;
                let mut buf = vec![0xEE; *len];
                let n = fs.read(ino, *off, &mut buf)?;
                buf.truncate(n);
                // The appending form gives the same bytes after a prefix.
                let mut appended = vec![7u8; 3];
                assert_eq!(fs.read_append(ino, *off, *len, &mut appended), Ok(n));
                assert_eq!(&appended[..3], &[7u8; 3]);
                assert_eq!(&appended[3..], &buf[..]);
                Ok(Out::Bytes(buf))
            }
            Op::Unlink(p) => unit(fs.unlink(R, p.as_bytes(), now)),
            Op::Rmdir(p) => unit(fs.rmdir(R, p.as_bytes(), now)),
            Op::Rename(o, n) => unit(fs.rename(R, o.as_bytes(), R, n.as_bytes(), now)),
            Op::Link(o, n) => unit(fs.link(R, o.as_bytes(), R, n.as_bytes(), now)),
            Op::Symlink { target, path } => fs
                .symlink(target.as_bytes(), R, path.as_bytes(), now)
                .map(|_| Out::Unit),
            Op::Lookup { path, follow } => {
                let ino = fs.lookup(R, path.as_bytes(), *follow)?;
                Ok(Out::Kind(fs.file_type(ino).unwrap()))
            }
            Op::Readlink(p) => fs.readlink(R, p.as_bytes()).map(Out::Bytes),
            Op::Hold(p) => {
                let ino = fs.open(R, p.as_bytes(), O_RDWR, 0, 0, now)?;
                fs.pin(ino);
                self.held.push(ino);
                Ok(Out::Unit)
            }
            Op::WriteHeld {
                idx,
                off,
                len,
                byte,
            } => {
                if let Some(&ino) = self.held.get(idx % self.held.len().max(1)) {
                    assert_eq!(fs.write(ino, *off, &vec![*byte; *len], now).unwrap(), *len);
                }
                Ok(Out::Unit)
            }
            Op::TruncateHeld { idx, len } => {
                if let Some(&ino) = self.held.get(idx % self.held.len().max(1)) {
                    fs.truncate(ino, *len, now).unwrap();
                }
                Ok(Out::Unit)
            }
            Op::Release(idx) => {
                if !self.held.is_empty() {
                    let i = idx % self.held.len();
                    let ino = self.held.remove(i);
                    fs.unpin(ino);
                }
                Ok(Out::Unit)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Comparing final states

#[derive(Clone, Debug, PartialEq, Eq)]
enum Desc {
    Dir,
    File(Vec<u8>),
    Link(Vec<u8>),
}

fn read_all(fs: &Fs, ino: Ino) -> Vec<u8> {
    let st = fs.stat(ino).unwrap();
    let mut buf = vec![0x55; st.size as usize];
    assert_eq!(fs.read(ino, 0, &mut buf).unwrap(), buf.len());
    assert_eq!(st.blocks % 8, 0);
    assert!(st.blocks * 512 <= st.size.div_ceil(4096) * 4096);
    buf
}

/// Walks the real file system: path -> description, and inode -> paths.
fn dump_fs(fs: &Fs) -> (BTreeMap<MPath, Desc>, BTreeSet<Vec<MPath>>, usize) {
    fn rec(
        fs: &Fs,
        dir: Ino,
        prefix: &MPath,
        out: &mut BTreeMap<MPath, Desc>,
        groups: &mut BTreeMap<Ino, Vec<MPath>>,
        dirs: &mut usize,
    ) {
        *dirs += 1;
        // Page through the directory two entries at a time.
        let mut cookie = 0;
        let mut ents = Vec::new();
        loop {
            let (batch, next) = fs.readdir(dir, cookie, 2).unwrap();
            if batch.is_empty() {
                break;
            }
            ents.extend(batch);
            cookie = next;
        }
        assert_eq!(ents[0].name, b".");
        assert_eq!(ents[0].ino, dir);
        assert_eq!(ents[1].name, b"..");
        assert_eq!(Some(ents[1].ino), fs.parent_of(dir));
        let st = fs.stat(dir).unwrap();
        assert_eq!(st.size, 20 * ents.len() as u64);
        let mut subdirs = 0;
        for e in &ents[2..] {
            let p = join(prefix, &e.name);
            assert_eq!(fs.file_type(e.ino).unwrap(), e.kind);
            match e.kind {
                FileType::Directory => {
                    subdirs += 1;
                    out.insert(p.clone(), Desc::Dir);
                    let mut abs = Vec::new();
                    for c in &p {
                        abs.push(b'/');
                        abs.extend_from_slice(c);
                    }
                    assert_eq!(fs.path_of(e.ino).unwrap(), abs);
                    rec(fs, e.ino, &p, out, groups, dirs);
                }
                FileType::Regular => {
                    out.insert(p.clone(), Desc::File(read_all(fs, e.ino)));
                    groups.entry(e.ino).or_default().push(p);
                }
                FileType::Symlink => {
                    let mut abs = Vec::new();
                    for c in &p {
                        abs.push(b'/');
                        abs.extend_from_slice(c);
                    }
                    out.insert(p.clone(), Desc::Link(fs.readlink(R, &abs).unwrap()));
                    groups.entry(e.ino).or_default().push(p);
                }
                k => panic!("unexpected {k:?}"),
            }
        }
        assert_eq!(st.nlink, 2 + subdirs);
    }
    let mut out = BTreeMap::new();
    let mut groups = BTreeMap::new();
    let mut dirs = 0;
    rec(fs, R, &vec![], &mut out, &mut groups, &mut dirs);
    for (ino, paths) in &groups {
        assert_eq!(fs.stat(*ino).unwrap().nlink as usize, paths.len());
    }
    (out, groups.into_values().map(sorted).collect(), dirs)
}

fn sorted(mut v: Vec<MPath>) -> Vec<MPath> {
    v.sort();
    v
}

fn dump_model(m: &Model) -> (BTreeMap<MPath, Desc>, BTreeSet<Vec<MPath>>, usize) {
    let mut out = BTreeMap::new();
    let mut groups: BTreeMap<u32, Vec<MPath>> = BTreeMap::new();
    let mut dirs = 0;
    for (p, e) in &m.tree {
        match e {
            Entry::Dir => {
                dirs += 1;
                if !p.is_empty() {
                    out.insert(p.clone(), Desc::Dir);
                }
            }
            Entry::Obj(id) => {
                groups.entry(*id).or_default().push(p.clone());
                out.insert(
                    p.clone(),
                    match &m.objs[id] {
                        Obj::File(d) => Desc::File(d.clone()),
                        Obj::Link(t) => Desc::Link(t.clone()),
                    },
                );
            }
        }
    }
    (out, groups.into_values().map(sorted).collect(), dirs)
}

fn compare(sut: &Sut, model: &Model) -> Result<(), TestCaseError> {
    sut.fs.check_invariants().map_err(TestCaseError::fail)?;
    let (fs_tree, fs_groups, fs_dirs) = dump_fs(&sut.fs);
    let (m_tree, m_groups, m_dirs) = dump_model(model);
    prop_assert_eq!(&fs_tree, &m_tree);
    prop_assert_eq!(&fs_groups, &m_groups);
    prop_assert_eq!(fs_dirs, m_dirs);
    // Held files: same contents, and no leaked or missing inodes.
    prop_assert_eq!(sut.held.len(), model.held.len());
    for (&ino, &id) in sut.held.iter().zip(&model.held) {
        let Obj::File(d) = &model.objs[&id] else {
            unreachable!()
        };
        prop_assert_eq!(&read_all(&sut.fs, ino), d);
    }
    let mut live: BTreeSet<u32> = model
        .tree
        .values()
        .filter_map(|e| {
            if let Entry::Obj(id) = e {
                Some(*id)
            } else {
                None
            }
        })
        .collect();
    live.extend(model.held.iter().copied());
    prop_assert_eq!(sut.fs.inode_count(), m_dirs + live.len());
    let data: u64 = live
        .iter()
        .map(|id| match &model.objs[id] {
            Obj::Link(t) => t.len() as u64,
            Obj::File(_) => 0,
        })
        .sum();
    prop_assert!(sut.fs.bytes_used() >= data);
    Ok(())
}

fn run(ops: &[Op]) -> Sut {
    let mut sut = Sut::new();
    for op in ops {
        let _ = sut.apply(op);
    }
    sut
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every operation's result and the final state match the model.
    #[test]
    fn matches_model(ops in prop::collection::vec(op(), 1..100)) {
        let mut sut = Sut::new();
        let mut model = Model::new();
        for (i, op) in ops.iter().enumerate() {
            let got = sut.apply(op);
            let want = model.apply(op);
            prop_assert_eq!(&got, &want, "op #{} {:?}", i, op);
            if i % 8 == 0 {
                sut.fs.check_invariants().map_err(TestCaseError::fail)?;
            }
        }
        compare(&sut, &model)?;
        // Releasing every handle frees exactly the unlinked inodes.
        for _ in 0..sut.held.len() {
            sut.apply(&Op::Release(0)).unwrap();
            model.apply(&Op::Release(0)).unwrap();
        }
        compare(&sut, &model)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Same operations => same state hash (determinism), for fresh instances
    /// and for a clone that is then driven alongside the original.
    #[test]
    fn clone_and_replay_agree(pre in prop::collection::vec(op(), 0..40), post in prop::collection::vec(op(), 0..40)) {
        let mut a = run(&pre);
        let b = run(&pre);
        prop_assert_eq!(a.fs.state_hash(), b.fs.state_hash());
        let mut c = a.clone();
        prop_assert_eq!(a.fs.state_hash(), c.fs.state_hash());
        for op in &post {
            let ra = a.apply(op);
            let rc = c.apply(op);
            prop_assert_eq!(ra, rc);
        }
        prop_assert_eq!(a.fs.state_hash(), c.fs.state_hash());
        let all: Vec<Op> = pre.iter().chain(&post).cloned().collect();
        prop_assert_eq!(run(&all).fs.state_hash(), a.fs.state_hash());
        c.fs.check_invariants().map_err(TestCaseError::fail)?;
    }

    /// A clone does not observe changes made to the original (pages are
    /// shared copy-on-write), and vice versa.
    #[test]
    fn clones_are_isolated(pre in prop::collection::vec(op(), 0..40), post in prop::collection::vec(op(), 1..40)) {
        let mut a = run(&pre);
        let snap = a.clone();
        let snap_hash = snap.fs.state_hash();
        let snap_dump = dump_fs(&snap.fs);
        for op in &post {
            let _ = a.apply(op);
        }
        prop_assert_eq!(snap.fs.state_hash(), snap_hash);
        prop_assert_eq!(&dump_fs(&snap.fs), &snap_dump);
        snap.fs.check_invariants().map_err(TestCaseError::fail)?;
        // And the other way round: mutate the snapshot, the original stays.
        let a_hash = a.fs.state_hash();
        let mut s2 = snap.clone();
        for op in &post {
            let _ = s2.apply(op);
        }
        prop_assert_eq!(a.fs.state_hash(), a_hash);
    }

    /// Changing any file's content by one byte (same timestamp) changes the
    /// hash; so does adding a name.
    #[test]
    fn hash_detects_changes(pre in prop::collection::vec(op(), 0..50), pick in any::<usize>(), pos in any::<u64>()) {
        let a = run(&pre);
        let h = a.fs.state_hash();
        let (_, groups, _) = dump_fs(&a.fs);
        let files: Vec<Ino> = groups
            .iter()
            .map(|g| a.fs.lookup(R, &g[0].iter().flat_map(|c| [b"/".as_slice(), c].concat()).collect::<Vec<u8>>(), false).unwrap())
            .filter(|&ino| a.fs.file_type(ino).unwrap() == FileType::Regular)
            .filter(|&ino| a.fs.stat(ino).unwrap().size > 0)
            .collect();
        if !files.is_empty() {
            let ino = files[pick % files.len()];
            let st = a.fs.stat(ino).unwrap();
            let off = pos % st.size;
            // Two clones get the same write at the same time, differing only
            // in the byte written: only the content differs.
            let mut byte = [0u8];
            a.fs.read(ino, off, &mut byte).unwrap();
            let mut b = a.fs.clone();
            let mut c = a.fs.clone();
            b.write(ino, off, &[byte[0] ^ 0x5a], st.mtime).unwrap();
            c.write(ino, off, &byte, st.mtime).unwrap();
            prop_assert_eq!(b.stat(ino).unwrap(), c.stat(ino).unwrap());
            prop_assert_ne!(b.state_hash(), c.state_hash());
            prop_assert_ne!(b.state_hash(), h);
        }
        let mut c = a.fs.clone();
        let made = c.mkdir(R, b"/zz-new", 0o755, 0, Timespec::new(0, 0));
        prop_assert!(made.is_ok());
        prop_assert_ne!(c.state_hash(), h);
        prop_assert_eq!(a.fs.state_hash(), h);
    }
}

//! Unit tests for every operation and errno case of `memfs::Fs`.

use memfs::*;

const R: Ino = Fs::ROOT;

fn t(sec: i64) -> Timespec {
    Timespec::new(sec, 0)
}

fn new_fs() -> Fs {
    Fs::new(t(1))
}

fn e<T: std::fmt::Debug>(r: KResult<T>) -> Errno {
    r.expect_err("expected an error")
}

fn create(fs: &mut Fs, path: &str) -> Ino {
    fs.open(R, path.as_bytes(), O_CREAT | O_WRONLY, 0o644, 0o022, t(2))
        .unwrap()
}

fn mkdir(fs: &mut Fs, path: &str) -> Ino {
    fs.mkdir(R, path.as_bytes(), 0o755, 0o022, t(2)).unwrap()
}

fn look(fs: &Fs, path: &str) -> KResult<Ino> {
    fs.lookup(R, path.as_bytes(), true)
}

fn read_all(fs: &Fs, ino: Ino) -> Vec<u8> {
    let size = fs.stat(ino).unwrap().size as usize;
    let mut buf = vec![0xAA; size + 10];
    let n = fs.read(ino, 0, &mut buf).unwrap();
    assert_eq!(n, size);
    buf.truncate(n);
    buf
}

fn names(fs: &Fs, dir: Ino) -> Vec<String> {
    let (ents, _) = fs.readdir(dir, 0, usize::MAX).unwrap();
    ents.into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .collect()
}

fn check(fs: &Fs) {
    fs.check_invariants().unwrap();
}

// ---------------------------------------------------------------------------
// new / stat / basics

#[test]
fn new_has_root() {
    let fs = new_fs();
    let st = fs.stat(R).unwrap();
    assert_eq!(R, 1);
    assert_eq!(ROOT_INO, 1);
    assert_eq!(st.ino, 1);
    assert_eq!(st.mode, S_IFDIR | 0o755);
    assert_eq!(st.nlink, 2);
    assert_eq!((st.uid, st.gid), (0, 0));
    assert_eq!(st.blksize, 4096);
    assert_eq!(st.atime, t(1));
    assert_eq!(st.mtime, t(1));
    assert_eq!(st.ctime, t(1));
    assert_eq!(fs.inode_count(), 1);
    assert_eq!(fs.bytes_used(), 0);
    assert_eq!(names(&fs, R), [".", ".."]);
    assert_eq!(fs.path_of(R).unwrap(), b"/");
    assert_eq!(fs.parent_of(R), Some(R));
    check(&fs);
}

#[test]
fn stat_missing_inode() {
    let fs = new_fs();
    assert_eq!(e(fs.stat(99)), Errno::ENOENT);
    assert_eq!(e(fs.file_type(99)), Errno::ENOENT);
}

#[test]
fn file_type_helpers() {
    for (k, bits, dt) in [
        (FileType::Regular, S_IFREG, 8),
        (FileType::Directory, S_IFDIR, 4),
        (FileType::Symlink, S_IFLNK, 10),
        (FileType::CharDevice, S_IFCHR, 2),
        (FileType::BlockDevice, S_IFBLK, 6),
        (FileType::Fifo, S_IFIFO, 1),
        (FileType::Socket, S_IFSOCK, 12),
    ] {
        assert_eq!(k.mode_bits(), bits);
        assert_eq!(FileType::from_mode(bits | 0o644), Some(k));
        assert_eq!(k.dirent_type(), dt);
    }
    assert_eq!(FileType::from_mode(0), None);
    assert_eq!(FileType::from_mode(0o170000), None);
}

// ---------------------------------------------------------------------------
// lookup / path resolution

#[test]
fn lookup_basic_paths() {
    let mut fs = new_fs();
    let a = mkdir(&mut fs, "/a");
    let b = mkdir(&mut fs, "/a/b");
    let f = create(&mut fs, "/a/b/f");
    assert_eq!(look(&fs, "/").unwrap(), R);
    assert_eq!(look(&fs, "///").unwrap(), R);
    assert_eq!(look(&fs, "/a").unwrap(), a);
    assert_eq!(look(&fs, "a").unwrap(), a);
    assert_eq!(look(&fs, "//a//b///f").unwrap(), f);
    assert_eq!(look(&fs, "/a/./b/../b/f").unwrap(), f);
    assert_eq!(look(&fs, "/..").unwrap(), R);
    assert_eq!(look(&fs, "/../../a").unwrap(), a);
    assert_eq!(look(&fs, ".").unwrap(), R);
    assert_eq!(look(&fs, "a/b/..").unwrap(), a);
    assert_eq!(look(&fs, "a/b/.").unwrap(), b);
    assert_eq!(look(&fs, "a/b/").unwrap(), b);
    assert_eq!(look(&fs, "a/b/./").unwrap(), b);
    // relative to another cwd; absolute ignores cwd
    assert_eq!(fs.lookup(a, b"b/f", true).unwrap(), f);
    assert_eq!(fs.lookup(a, b"..", true).unwrap(), R);
    assert_eq!(fs.lookup(b, b"/a", true).unwrap(), a);
    assert_eq!(fs.lookup(f, b"/a", true).unwrap(), a);
}

#[test]
fn lookup_errors() {
    let mut fs = new_fs();
    mkdir(&mut fs, "/a");
    let f = create(&mut fs, "/a/f");
    assert_eq!(e(look(&fs, "")), Errno::ENOENT);
    assert_eq!(e(look(&fs, "/nope")), Errno::ENOENT);
    assert_eq!(e(look(&fs, "/nope/x")), Errno::ENOENT);
    assert_eq!(e(look(&fs, "/a/f/x")), Errno::ENOTDIR);
    assert_eq!(e(look(&fs, "/a/f/")), Errno::ENOTDIR);
    assert_eq!(e(look(&fs, "/a/f/.")), Errno::ENOTDIR);
    assert_eq!(e(look(&fs, "/a/f/..")), Errno::ENOTDIR);
    // cwd problems for relative paths
    assert_eq!(e(fs.lookup(f, b"x", true)), Errno::ENOTDIR);
    assert_eq!(e(fs.lookup(12345, b"x", true)), Errno::ENOENT);
}

#[test]
fn lookup_name_too_long() {
    let mut fs = new_fs();
    let long = "x".repeat(256);
    let ok = "y".repeat(255);
    assert_eq!(e(look(&fs, &format!("/{long}"))), Errno::ENAMETOOLONG);
    assert_eq!(e(look(&fs, &format!("/{long}/a"))), Errno::ENAMETOOLONG);
    assert_eq!(e(look(&fs, &format!("/{ok}"))), Errno::ENOENT);
    create(&mut fs, &format!("/{ok}"));
    assert!(look(&fs, &format!("/{ok}")).is_ok());
    assert_eq!(
        e(fs.mkdir(R, long.as_bytes(), 0o755, 0, t(2))),
        Errno::ENAMETOOLONG
    );
    assert_eq!(
        e(fs.open(R, long.as_bytes(), O_CREAT, 0o644, 0, t(2))),
        Errno::ENAMETOOLONG
    );
    assert_eq!(e(fs.unlink(R, long.as_bytes(), t(2))), Errno::ENAMETOOLONG);
    assert_eq!(e(fs.rmdir(R, long.as_bytes(), t(2))), Errno::ENAMETOOLONG);
}

#[test]
fn lookup_path_too_long() {
    let mut fs = new_fs();
    mkdir(&mut fs, "/d");
    // 4095 bytes of "/d/./././..." resolves; 4096 bytes is too long.
    let mut p = String::from("/d");
    while p.len() < 4093 {
        p.push_str("/.");
    }
    p.truncate(4093);
    while p.len() < 4095 {
        p.push('/');
    }
    assert_eq!(p.len(), 4095);
    assert!(look(&fs, &p).is_ok());
    p.push('/');
    assert_eq!(e(look(&fs, &p)), Errno::ENAMETOOLONG);
}

#[test]
fn symlinks_followed() {
    let mut fs = new_fs();
    let a = mkdir(&mut fs, "/a");
    let f = create(&mut fs, "/a/f");
    let l1 = fs.symlink(b"/a/f", R, b"/abs", t(3)).unwrap();
    fs.symlink(b"a", R, b"/rel", t(3)).unwrap();
    fs.symlink(b"../a/f", a, b"up", t(3)).unwrap();
    fs.symlink(b"rel", R, b"/chain", t(3)).unwrap();
    assert_eq!(look(&fs, "/abs").unwrap(), f);
    assert_eq!(fs.lookup(R, b"/abs", false).unwrap(), l1);
    assert_eq!(look(&fs, "/rel").unwrap(), a);
    assert_eq!(look(&fs, "/rel/f").unwrap(), f);
    assert_eq!(look(&fs, "/a/up").unwrap(), f);
    assert_eq!(look(&fs, "/chain/up").unwrap(), f);
    // ".." after a symlink is physical: /rel -> /a, /rel/.. is /
    assert_eq!(look(&fs, "/rel/..").unwrap(), R);
    // Trailing slash forces following even with follow == false.
    assert_eq!(fs.lookup(R, b"/rel/", false).unwrap(), a);
    assert_eq!(e(fs.lookup(R, b"/abs/", false)), Errno::ENOTDIR);
    // Symlink to a file used as a directory.
    assert_eq!(e(look(&fs, "/abs/x")), Errno::ENOTDIR);
    // Dangling
    fs.symlink(b"/nowhere", R, b"/dang", t(3)).unwrap();
    assert_eq!(e(look(&fs, "/dang")), Errno::ENOENT);
    assert!(fs.lookup(R, b"/dang", false).is_ok());
    assert_eq!(e(look(&fs, "/dang/x")), Errno::ENOENT);
    check(&fs);
}

#[test]
fn symlink_loops_and_limit() {
    let mut fs = new_fs();
    fs.symlink(b"self", R, b"self", t(2)).unwrap();
    assert_eq!(e(look(&fs, "/self")), Errno::ELOOP);
    assert_eq!(e(look(&fs, "/self/x")), Errno::ELOOP);
    assert!(fs.lookup(R, b"/self", false).is_ok());
    fs.symlink(b"/p2", R, b"p1", t(2)).unwrap();
    fs.symlink(b"/p1", R, b"p2", t(2)).unwrap();
    assert_eq!(e(look(&fs, "/p1")), Errno::ELOOP);
    // A chain of exactly 40 links resolves, 41 does not.
    let target = create(&mut fs, "/target");
    fs.symlink(b"/target", R, b"l0", t(2)).unwrap();
    for i in 1..=40 {
        fs.symlink(
            format!("/l{}", i - 1).as_bytes(),
            R,
            format!("/l{i}").as_bytes(),
            t(2),
        )
        .unwrap();
    }
    assert_eq!(look(&fs, "/l39").unwrap(), target); // 40 hops
    assert_eq!(e(look(&fs, "/l40")), Errno::ELOOP); // 41 hops
                                                    // Hops in intermediate components count too.
    let d = mkdir(&mut fs, "/d");
    let g = create(&mut fs, "/d/g");
    fs.symlink(b"/d", R, b"m0", t(2)).unwrap();
    for i in 1..=40 {
        fs.symlink(
            format!("/m{}", i - 1).as_bytes(),
            R,
            format!("/m{i}").as_bytes(),
            t(2),
        )
        .unwrap();
    }
    assert_eq!(look(&fs, "/m39").unwrap(), d);
    assert_eq!(look(&fs, "/m39/g").unwrap(), g);
    assert_eq!(e(look(&fs, "/m40/g")), Errno::ELOOP);
    check(&fs);
}

// ---------------------------------------------------------------------------
// open

#[test]
fn open_create_and_existing() {
    let mut fs = new_fs();
    let f = fs
        .open(R, b"/f", O_CREAT | O_WRONLY, 0o666, 0o022, t(5))
        .unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!(st.mode, S_IFREG | 0o644);
    assert_eq!(st.nlink, 1);
    assert_eq!(st.size, 0);
    assert_eq!((st.atime, st.mtime, st.ctime), (t(5), t(5), t(5)));
    let root = fs.stat(R).unwrap();
    assert_eq!((root.mtime, root.ctime), (t(5), t(5)));
    // Mode is masked to 0o7777 and by umask.
    let g = fs.open(R, b"/g", O_CREAT, 0o107777, 0o002, t(5)).unwrap();
    assert_eq!(fs.stat(g).unwrap().mode, S_IFREG | 0o7775);
    // Existing: same inode, no timestamp change on the parent.
    assert_eq!(
        fs.open(R, b"/f", O_CREAT | O_RDWR, 0o600, 0, t(6)).unwrap(),
        f
    );
    assert_eq!(fs.stat(f).unwrap().mode, S_IFREG | 0o644);
    assert_eq!(fs.stat(R).unwrap().mtime, t(5));
    assert_eq!(fs.open(R, b"f", O_RDONLY, 0, 0, t(6)).unwrap(), f);
    assert_eq!(
        e(fs.open(R, b"/missing", O_RDONLY, 0, 0, t(6))),
        Errno::ENOENT
    );
    assert_eq!(e(fs.open(R, b"", O_CREAT, 0, 0, t(6))), Errno::ENOENT);
    assert_eq!(
        e(fs.open(R, b"/nodir/x", O_CREAT, 0, 0, t(6))),
        Errno::ENOENT
    );
    check(&fs);
}

#[test]
fn open_excl() {
    let mut fs = new_fs();
    create(&mut fs, "/f");
    mkdir(&mut fs, "/d");
    fs.symlink(b"/nowhere", R, b"/dang", t(2)).unwrap();
    fs.symlink(b"/f", R, b"/lf", t(2)).unwrap();
    let x = O_CREAT | O_EXCL | O_WRONLY;
    assert_eq!(e(fs.open(R, b"/f", x, 0o644, 0, t(3))), Errno::EEXIST);
    assert_eq!(e(fs.open(R, b"/d", x, 0o644, 0, t(3))), Errno::EEXIST);
    assert_eq!(e(fs.open(R, b"/dang", x, 0o644, 0, t(3))), Errno::EEXIST);
    assert_eq!(e(fs.open(R, b"/lf", x, 0o644, 0, t(3))), Errno::EEXIST);
    assert_eq!(e(fs.open(R, b"/", x, 0o644, 0, t(3))), Errno::EEXIST);
    assert_eq!(e(fs.open(R, b"/d/.", x, 0o644, 0, t(3))), Errno::EEXIST);
    assert!(fs.open(R, b"/new", x, 0o644, 0, t(3)).is_ok());
    assert_eq!(e(look(&fs, "/nowhere")), Errno::ENOENT);
}

#[test]
fn open_creat_through_dangling_symlink() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    fs.symlink(b"target", d, b"l", t(2)).unwrap();
    let ino = fs
        .open(R, b"/d/l", O_CREAT | O_WRONLY, 0o600, 0, t(3))
        .unwrap();
    assert_eq!(fs.lookup(d, b"target", false).unwrap(), ino);
    assert_eq!(fs.stat(ino).unwrap().mode, S_IFREG | 0o600);
    // A second open finds it.
    assert_eq!(
        fs.open(R, b"/d/l", O_CREAT | O_WRONLY, 0o600, 0, t(3))
            .unwrap(),
        ino
    );
    // O_NOFOLLOW: ELOOP
    assert_eq!(
        e(fs.open(R, b"/d/l", O_CREAT | O_NOFOLLOW, 0o600, 0, t(3))),
        Errno::ELOOP
    );
    // Dangling target in a missing directory
    fs.symlink(b"/none/x", R, b"bad", t(2)).unwrap();
    assert_eq!(
        e(fs.open(R, b"/bad", O_CREAT, 0o600, 0, t(3))),
        Errno::ENOENT
    );
    // Loop with O_CREAT
    fs.symlink(b"loop", R, b"loop", t(2)).unwrap();
    assert_eq!(
        e(fs.open(R, b"/loop", O_CREAT, 0o600, 0, t(3))),
        Errno::ELOOP
    );
    // Target ending in a slash
    fs.symlink(b"newdir/", R, b"slash", t(2)).unwrap();
    assert_eq!(
        e(fs.open(R, b"/slash", O_CREAT, 0o600, 0, t(3))),
        Errno::EISDIR
    );
    check(&fs);
}

#[test]
fn open_directory_cases() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    create(&mut fs, "/f");
    fs.symlink(b"/d", R, b"ld", t(2)).unwrap();
    assert_eq!(fs.open(R, b"/d", O_RDONLY, 0, 0, t(3)).unwrap(), d);
    assert_eq!(
        fs.open(R, b"/d", O_RDONLY | O_DIRECTORY, 0, 0, t(3))
            .unwrap(),
        d
    );
    assert_eq!(
        fs.open(R, b"/ld", O_RDONLY | O_DIRECTORY, 0, 0, t(3))
            .unwrap(),
        d
    );
    assert_eq!(e(fs.open(R, b"/d", O_WRONLY, 0, 0, t(3))), Errno::EISDIR);
    assert_eq!(e(fs.open(R, b"/d", O_RDWR, 0, 0, t(3))), Errno::EISDIR);
    assert_eq!(
        e(fs.open(R, b"/d", O_RDONLY | O_TRUNC, 0, 0, t(3))),
        Errno::EISDIR
    );
    assert_eq!(e(fs.open(R, b"/d", O_CREAT, 0o644, 0, t(3))), Errno::EISDIR);
    assert_eq!(e(fs.open(R, b"/", O_CREAT, 0o644, 0, t(3))), Errno::EISDIR);
    assert_eq!(
        e(fs.open(R, b"/d/..", O_CREAT, 0o644, 0, t(3))),
        Errno::EISDIR
    );
    assert_eq!(
        e(fs.open(R, b"/ld", O_CREAT, 0o644, 0, t(3))),
        Errno::EISDIR
    );
    assert_eq!(
        e(fs.open(R, b"/f", O_RDONLY | O_DIRECTORY, 0, 0, t(3))),
        Errno::ENOTDIR
    );
    assert_eq!(e(fs.open(R, b"/f/", O_RDONLY, 0, 0, t(3))), Errno::ENOTDIR);
    assert_eq!(
        e(fs.open(R, b"/d", O_CREAT | O_DIRECTORY, 0, 0, t(3))),
        Errno::EINVAL
    );
    assert_eq!(
        e(fs.open(R, b"/new", O_CREAT | O_DIRECTORY, 0, 0, t(3))),
        Errno::EINVAL
    );
    // O_CREAT with a trailing slash: EISDIR whatever exists.
    assert_eq!(
        e(fs.open(R, b"/new/", O_CREAT, 0o644, 0, t(3))),
        Errno::EISDIR
    );
    assert_eq!(
        e(fs.open(R, b"/f/", O_CREAT, 0o644, 0, t(3))),
        Errno::EISDIR
    );
    assert_eq!(
        e(fs.open(R, b"/d/", O_CREAT, 0o644, 0, t(3))),
        Errno::EISDIR
    );
    assert_eq!(
        e(fs.open(R, b"/d", O_TMPFILE | O_RDWR, 0o600, 0, t(3))),
        Errno::EOPNOTSUPP
    );
    assert_eq!(e(look(&fs, "/new")), Errno::ENOENT);
}

#[test]
fn open_nofollow_and_path() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    let d = mkdir(&mut fs, "/d");
    let l = fs.symlink(b"/f", R, b"l", t(2)).unwrap();
    fs.symlink(b"/d", R, b"ld", t(2)).unwrap();
    assert_eq!(fs.open(R, b"/l", O_RDONLY, 0, 0, t(3)).unwrap(), f);
    assert_eq!(
        e(fs.open(R, b"/l", O_RDONLY | O_NOFOLLOW, 0, 0, t(3))),
        Errno::ELOOP
    );
    assert_eq!(
        e(fs.open(R, b"/l", O_RDONLY | O_NOFOLLOW | O_DIRECTORY, 0, 0, t(3))),
        Errno::ENOTDIR
    );
    // Trailing slash follows anyway.
    assert_eq!(
        fs.open(R, b"/ld/", O_RDONLY | O_NOFOLLOW, 0, 0, t(3))
            .unwrap(),
        d
    );
    // O_NOFOLLOW on a non-symlink is fine; intermediate links are followed.
    assert_eq!(
        fs.open(R, b"/f", O_RDONLY | O_NOFOLLOW, 0, 0, t(3))
            .unwrap(),
        f
    );
    // O_PATH | O_NOFOLLOW returns the link itself; O_PATH ignores O_CREAT/O_TRUNC.
    assert_eq!(
        fs.open(R, b"/l", O_PATH | O_NOFOLLOW, 0, 0, t(3)).unwrap(),
        l
    );
    assert_eq!(fs.open(R, b"/d", O_PATH | O_WRONLY, 0, 0, t(3)).unwrap(), d);
    fs.write(f, 0, b"data", t(3)).unwrap();
    assert_eq!(fs.open(R, b"/f", O_PATH | O_TRUNC, 0, 0, t(3)).unwrap(), f);
    assert_eq!(fs.stat(f).unwrap().size, 4);
    assert_eq!(
        e(fs.open(R, b"/nope", O_PATH | O_CREAT, 0, 0, t(3))),
        Errno::ENOENT
    );
}

#[test]
fn open_trunc() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    fs.write(f, 0, &[7u8; 10000], t(3)).unwrap();
    assert_eq!(fs.stat(f).unwrap().blocks, 24);
    // O_RDONLY without O_TRUNC keeps data.
    fs.open(R, b"/f", O_RDONLY, 0, 0, t(4)).unwrap();
    assert_eq!(fs.stat(f).unwrap().size, 10000);
    fs.open(R, b"/f", O_WRONLY | O_TRUNC, 0, 0, t(5)).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!((st.size, st.blocks, st.mtime, st.ctime), (0, 0, t(5), t(5)));
    // Linux truncates on O_RDONLY | O_TRUNC too.
    fs.write(f, 0, b"abc", t(6)).unwrap();
    fs.open(R, b"/f", O_RDONLY | O_TRUNC, 0, 0, t(7)).unwrap();
    assert_eq!(fs.stat(f).unwrap().size, 0);
    // O_TRUNC on a freshly created file does nothing special; on an existing
    // one via O_CREAT it truncates.
    fs.write(f, 0, b"abc", t(8)).unwrap();
    fs.open(R, b"/f", O_CREAT | O_WRONLY | O_TRUNC, 0o644, 0, t(9))
        .unwrap();
    assert_eq!(fs.stat(f).unwrap().size, 0);
    assert_eq!(fs.stat(f).unwrap().mtime, t(9));
    // O_TRUNC on a device is ignored.
    let c = fs
        .mknod(R, b"/c", S_IFCHR | 0o600, 0x0501, 0, t(9))
        .unwrap();
    assert_eq!(
        fs.open(R, b"/c", O_WRONLY | O_TRUNC, 0, 0, t(9)).unwrap(),
        c
    );
    check(&fs);
}

#[test]
fn open_in_removed_directory() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    fs.pin(d);
    fs.rmdir(R, b"/d", t(3)).unwrap();
    assert_eq!(e(fs.open(d, b"x", O_CREAT, 0o644, 0, t(4))), Errno::ENOENT);
    assert_eq!(e(fs.mkdir(d, b"x", 0o755, 0, t(4))), Errno::ENOENT);
    assert_eq!(
        e(fs.mknod(d, b"x", S_IFIFO | 0o644, 0, 0, t(4))),
        Errno::ENOENT
    );
    assert_eq!(e(fs.symlink(b"t", d, b"x", t(4))), Errno::ENOENT);
    assert_eq!(e(fs.readdir(d, 0, 10)), Errno::ENOENT);
    assert_eq!(fs.lookup(d, b".", true).unwrap(), d);
    // ".." of a removed directory still reaches the old parent (Linux keeps d_parent).
    assert_eq!(fs.lookup(d, b"..", true).unwrap(), R);
    assert_eq!(fs.path_of(d), None);
    assert_eq!(fs.parent_of(d), None);
    assert_eq!(fs.stat(d).unwrap().nlink, 0);
    check(&fs);
    fs.unpin(d);
    assert_eq!(e(fs.stat(d)), Errno::ENOENT);
    check(&fs);
}

// ---------------------------------------------------------------------------
// mkdir / mknod / symlink / readlink

#[test]
fn mkdir_basic_and_nlink() {
    let mut fs = new_fs();
    let a = fs.mkdir(R, b"/a", 0o777, 0o022, t(3)).unwrap();
    let st = fs.stat(a).unwrap();
    assert_eq!(st.mode, S_IFDIR | 0o755);
    assert_eq!(st.nlink, 2);
    assert_eq!(st.mtime, t(3));
    assert_eq!(fs.stat(R).unwrap().nlink, 3);
    assert_eq!(fs.stat(R).unwrap().mtime, t(3));
    let s = fs.mkdir(R, b"/a/sticky", 0o1777, 0, t(3)).unwrap();
    assert_eq!(fs.stat(s).unwrap().mode, S_IFDIR | 0o1777);
    fs.mkdir(a, b"b/", 0o755, 0, t(3)).unwrap(); // trailing slash OK
    assert_eq!(fs.stat(a).unwrap().nlink, 4);
    create(&mut fs, "/a/f");
    assert_eq!(fs.stat(a).unwrap().nlink, 4); // files don't count
    assert_eq!(fs.stat(a).unwrap().size, 20 * 5);
    check(&fs);
}

#[test]
fn mkdir_errors() {
    let mut fs = new_fs();
    mkdir(&mut fs, "/a");
    create(&mut fs, "/f");
    fs.symlink(b"/nowhere", R, b"/dang", t(2)).unwrap();
    let m = |fs: &mut Fs, p: &str| e(fs.mkdir(R, p.as_bytes(), 0o755, 0, t(3)));
    assert_eq!(m(&mut fs, "/a"), Errno::EEXIST);
    assert_eq!(m(&mut fs, "/a/"), Errno::EEXIST);
    assert_eq!(m(&mut fs, "/f"), Errno::EEXIST);
    assert_eq!(m(&mut fs, "/dang"), Errno::EEXIST);
    assert_eq!(m(&mut fs, "/"), Errno::EEXIST);
    assert_eq!(m(&mut fs, "/a/."), Errno::EEXIST);
    assert_eq!(m(&mut fs, "/a/.."), Errno::EEXIST);
    assert_eq!(m(&mut fs, "/x/y"), Errno::ENOENT);
    assert_eq!(m(&mut fs, "/f/y"), Errno::ENOTDIR);
    assert_eq!(m(&mut fs, ""), Errno::ENOENT);
    check(&fs);
}

#[test]
fn mkdir_emlink() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    for i in 0..(LINK_MAX - 2) {
        fs.mkdir(d, i.to_string().as_bytes(), 0o755, 0, t(2))
            .unwrap();
    }
    assert_eq!(fs.stat(d).unwrap().nlink, LINK_MAX);
    assert_eq!(e(fs.mkdir(d, b"one-more", 0o755, 0, t(2))), Errno::EMLINK);
    // rename of a directory into it: EMLINK too
    mkdir(&mut fs, "/other");
    assert_eq!(e(fs.rename(R, b"/other", d, b"x", t(2))), Errno::EMLINK);
    // files are fine
    create(&mut fs, "/d/file");
}

#[test]
fn mknod_types() {
    let mut fs = new_fs();
    let c = fs
        .mknod(R, b"/c", S_IFCHR | 0o666, 0x0103, 0o022, t(2))
        .unwrap();
    let st = fs.stat(c).unwrap();
    assert_eq!(st.mode, S_IFCHR | 0o644);
    assert_eq!(st.rdev, 0x0103);
    assert_eq!(fs.file_type(c).unwrap(), FileType::CharDevice);
    let b = fs
        .mknod(R, b"/b", S_IFBLK | 0o600, 0x0800, 0, t(2))
        .unwrap();
    assert_eq!(fs.file_type(b).unwrap(), FileType::BlockDevice);
    let p = fs.mknod(R, b"/p", S_IFIFO | 0o600, 99, 0, t(2)).unwrap();
    assert_eq!(fs.file_type(p).unwrap(), FileType::Fifo);
    assert_eq!(fs.stat(p).unwrap().rdev, 0);
    let s = fs.mknod(R, b"/s", S_IFSOCK | 0o600, 0, 0, t(2)).unwrap();
    assert_eq!(fs.file_type(s).unwrap(), FileType::Socket);
    let r = fs.mknod(R, b"/r", 0o600, 0, 0, t(2)).unwrap();
    assert_eq!(fs.file_type(r).unwrap(), FileType::Regular);
    let r2 = fs.mknod(R, b"/r2", S_IFREG | 0o600, 0, 0, t(2)).unwrap();
    assert_eq!(fs.stat(r2).unwrap().mode, S_IFREG | 0o600);
    assert_eq!(
        e(fs.mknod(R, b"/d", S_IFDIR | 0o755, 0, 0, t(2))),
        Errno::EPERM
    );
    assert_eq!(
        e(fs.mknod(R, b"/l", S_IFLNK | 0o755, 0, 0, t(2))),
        Errno::EINVAL
    );
    assert_eq!(e(fs.mknod(R, b"/z", 0o170000, 0, 0, t(2))), Errno::EINVAL);
    assert_eq!(e(fs.mknod(R, b"/c", S_IFCHR, 0, 0, t(2))), Errno::EEXIST);
    assert_eq!(e(fs.mknod(R, b"/new/", S_IFIFO, 0, 0, t(2))), Errno::ENOENT);
    assert_eq!(e(fs.mknod(R, b"/c/", S_IFIFO, 0, 0, t(2))), Errno::EEXIST);
    // I/O on special files is the kernel's business.
    assert_eq!(e(fs.read(c, 0, &mut [0; 4])), Errno::EINVAL);
    assert_eq!(e(fs.write(c, 0, b"x", t(3))), Errno::EINVAL);
    assert_eq!(e(fs.truncate(p, 0, t(3))), Errno::EINVAL);
    assert_eq!(names(&fs, R), [".", "..", "c", "b", "p", "s", "r", "r2"]);
    let (ents, _) = fs.readdir(R, 2, 10).unwrap();
    let kinds: Vec<_> = ents.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            FileType::CharDevice,
            FileType::BlockDevice,
            FileType::Fifo,
            FileType::Socket,
            FileType::Regular,
            FileType::Regular
        ]
    );
    check(&fs);
}

#[test]
fn symlink_and_readlink() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    let l = fs.symlink(b"some/where", d, b"l", t(4)).unwrap();
    let st = fs.stat(l).unwrap();
    assert_eq!(st.mode, S_IFLNK | 0o777);
    assert_eq!(st.size, 10);
    assert_eq!(st.nlink, 1);
    assert_eq!(fs.stat(d).unwrap().mtime, t(4));
    assert_eq!(fs.readlink(R, b"/d/l").unwrap(), b"some/where");
    assert_eq!(fs.readlink(d, b"l").unwrap(), b"some/where");
    assert_eq!(e(fs.readlink(R, b"/d")), Errno::EINVAL);
    assert_eq!(e(fs.readlink(R, b"/d/nope")), Errno::ENOENT);
    assert_eq!(e(fs.readlink(R, b"")), Errno::ENOENT);
    // readlink follows intermediate links only
    fs.symlink(b"/d", R, b"ld", t(4)).unwrap();
    assert_eq!(fs.readlink(R, b"/ld/l").unwrap(), b"some/where");
    assert_eq!(e(fs.readlink(R, b"/ld/")), Errno::EINVAL);
    assert_eq!(fs.readlink(R, b"/ld").unwrap(), b"/d");
    // symlink errors
    assert_eq!(e(fs.symlink(b"", R, b"/e", t(4))), Errno::ENOENT);
    assert_eq!(
        e(fs.symlink(&[b'x'; 4096], R, b"/e", t(4))),
        Errno::ENAMETOOLONG
    );
    assert!(fs.symlink(&[b'x'; 4095], R, b"/e", t(4)).is_ok());
    assert_eq!(e(fs.symlink(b"x", R, b"/e", t(4))), Errno::EEXIST);
    assert_eq!(e(fs.symlink(b"x", R, b"/d", t(4))), Errno::EEXIST);
    assert_eq!(e(fs.symlink(b"x", R, b"/new/", t(4))), Errno::ENOENT);
    assert_eq!(e(fs.symlink(b"x", R, b"/nope/x", t(4))), Errno::ENOENT);
    assert_eq!(e(fs.symlink(b"x", R, b"/", t(4))), Errno::EEXIST);
    assert_eq!(fs.bytes_used(), 10 + 2 + 4095);
    check(&fs);
}

// ---------------------------------------------------------------------------
// link / unlink

#[test]
fn link_basic() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    let f = create(&mut fs, "/f");
    fs.write(f, 0, b"hello", t(3)).unwrap();
    fs.link(R, b"/f", d, b"g", t(5)).unwrap();
    assert_eq!(look(&fs, "/d/g").unwrap(), f);
    let st = fs.stat(f).unwrap();
    assert_eq!(st.nlink, 2);
    assert_eq!(st.ctime, t(5));
    assert_eq!(st.mtime, t(3));
    assert_eq!(fs.stat(d).unwrap().mtime, t(5));
    // Unlinking one name keeps the other.
    fs.unlink(R, b"/f", t(6)).unwrap();
    assert_eq!(fs.stat(f).unwrap().nlink, 1);
    assert_eq!(read_all(&fs, f), b"hello");
    assert_eq!(fs.inode_count(), 3);
    fs.unlink(d, b"g", t(6)).unwrap();
    assert_eq!(e(fs.stat(f)), Errno::ENOENT);
    assert_eq!(fs.inode_count(), 2);
    check(&fs);
}

#[test]
fn link_symlink_not_followed() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    let l = fs.symlink(b"/f", R, b"l", t(2)).unwrap();
    fs.link(R, b"/l", R, b"l2", t(3)).unwrap();
    assert_eq!(fs.lookup(R, b"/l2", false).unwrap(), l);
    assert_eq!(fs.stat(l).unwrap().nlink, 2);
    assert_eq!(fs.stat(f).unwrap().nlink, 1);
    // link to a dangling symlink works too
    fs.symlink(b"/nowhere", R, b"dang", t(2)).unwrap();
    fs.link(R, b"/dang", R, b"dang2", t(3)).unwrap();
    check(&fs);
}

#[test]
fn link_errors() {
    let mut fs = new_fs();
    mkdir(&mut fs, "/d");
    create(&mut fs, "/f");
    create(&mut fs, "/g");
    let l = |fs: &mut Fs, a: &str, b: &str| e(fs.link(R, a.as_bytes(), R, b.as_bytes(), t(3)));
    assert_eq!(l(&mut fs, "/d", "/d2"), Errno::EPERM);
    assert_eq!(l(&mut fs, "/d", "/f"), Errno::EEXIST); // EEXIST is checked first
    assert_eq!(l(&mut fs, "/f", "/g"), Errno::EEXIST);
    assert_eq!(l(&mut fs, "/f", "/d"), Errno::EEXIST);
    assert_eq!(l(&mut fs, "/nope", "/x"), Errno::ENOENT);
    assert_eq!(l(&mut fs, "/f", "/nope/x"), Errno::ENOENT);
    assert_eq!(l(&mut fs, "/f", "/x/"), Errno::ENOENT);
    assert_eq!(l(&mut fs, "/f/", "/x"), Errno::ENOTDIR);
    assert_eq!(l(&mut fs, "/f", "/g/x"), Errno::ENOTDIR);
    assert_eq!(l(&mut fs, "/f", "/"), Errno::EEXIST);
    assert_eq!(l(&mut fs, "/f", "/d/."), Errno::EEXIST);
    assert_eq!(l(&mut fs, "", "/x"), Errno::ENOENT);
    check(&fs);
}

#[test]
fn link_emlink() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    let d = mkdir(&mut fs, "/d");
    for i in 1..LINK_MAX {
        fs.link(R, b"/f", d, i.to_string().as_bytes(), t(2))
            .unwrap();
    }
    assert_eq!(fs.stat(f).unwrap().nlink, LINK_MAX);
    assert_eq!(e(fs.link(R, b"/f", R, b"/x", t(2))), Errno::EMLINK);
}

#[test]
fn unlink_cases() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    let f = create(&mut fs, "/d/f");
    fs.symlink(b"/d", R, b"ld", t(2)).unwrap();
    fs.symlink(b"/d/f", R, b"lf", t(2)).unwrap();
    let u = |fs: &mut Fs, p: &str| fs.unlink(R, p.as_bytes(), t(5));
    assert_eq!(e(u(&mut fs, "/d")), Errno::EISDIR);
    assert_eq!(e(u(&mut fs, "/d/")), Errno::EISDIR);
    assert_eq!(e(u(&mut fs, "/")), Errno::EISDIR);
    assert_eq!(e(u(&mut fs, "/d/.")), Errno::EISDIR);
    assert_eq!(e(u(&mut fs, "/d/..")), Errno::EISDIR);
    assert_eq!(e(u(&mut fs, "/d/f/")), Errno::ENOTDIR);
    assert_eq!(e(u(&mut fs, "/lf/")), Errno::ENOTDIR);
    assert_eq!(e(u(&mut fs, "/nope")), Errno::ENOENT);
    assert_eq!(e(u(&mut fs, "/nope/x")), Errno::ENOENT);
    assert_eq!(e(u(&mut fs, "/d/f/x")), Errno::ENOTDIR);
    assert_eq!(e(u(&mut fs, "")), Errno::ENOENT);
    // Unlinking a symlink removes the link, not the target.
    u(&mut fs, "/ld").unwrap();
    assert_eq!(look(&fs, "/d").unwrap(), d);
    // Through an intermediate link:
    fs.symlink(b"/d", R, b"ld", t(2)).unwrap();
    u(&mut fs, "/ld/f").unwrap();
    assert_eq!(e(fs.stat(f)), Errno::ENOENT);
    assert_eq!(fs.stat(d).unwrap().mtime, t(5));
    assert_eq!(fs.stat(d).unwrap().ctime, t(5));
    // Dangling now
    assert_eq!(e(look(&fs, "/lf")), Errno::ENOENT);
    check(&fs);
}

#[test]
fn unlink_while_pinned_keeps_data() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    fs.write(f, 0, b"still here", t(3)).unwrap();
    fs.pin(f);
    fs.pin(f);
    fs.unlink(R, b"/f", t(4)).unwrap();
    assert_eq!(e(look(&fs, "/f")), Errno::ENOENT);
    let st = fs.stat(f).unwrap();
    assert_eq!(st.nlink, 0);
    assert_eq!(st.ctime, t(4));
    assert_eq!(read_all(&fs, f), b"still here");
    fs.write(f, 10, b"!", t(5)).unwrap();
    assert_eq!(read_all(&fs, f), b"still here!");
    fs.truncate(f, 5, t(5)).unwrap();
    assert_eq!(read_all(&fs, f), b"still");
    check(&fs);
    // A new file with the same name is a different inode.
    let g = create(&mut fs, "/f");
    assert_ne!(f, g);
    assert_eq!(read_all(&fs, g), b"");
    fs.unpin(f);
    assert!(fs.stat(f).is_ok());
    check(&fs);
    fs.unpin(f);
    assert_eq!(e(fs.stat(f)), Errno::ENOENT);
    assert_eq!(e(fs.read(f, 0, &mut [0; 1])), Errno::ENOENT);
    // Extra unpin / pin of a missing inode is harmless.
    fs.unpin(f);
    fs.pin(f);
    assert_eq!(fs.inode_count(), 2);
    check(&fs);
}

#[test]
fn pin_does_not_keep_linked_file_from_unpin() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    fs.pin(f);
    fs.unpin(f);
    assert!(fs.stat(f).is_ok()); // still linked
    fs.unlink(R, b"/f", t(2)).unwrap();
    assert!(fs.stat(f).is_err());
}

// ---------------------------------------------------------------------------
// rmdir

#[test]
fn rmdir_cases() {
    let mut fs = new_fs();
    let a = mkdir(&mut fs, "/a");
    let b = mkdir(&mut fs, "/a/b");
    create(&mut fs, "/a/f");
    fs.symlink(b"/a/b", R, b"lb", t(2)).unwrap();
    let r = |fs: &mut Fs, p: &str| fs.rmdir(R, p.as_bytes(), t(5));
    assert_eq!(e(r(&mut fs, "/a")), Errno::ENOTEMPTY);
    assert_eq!(e(r(&mut fs, "/a/f")), Errno::ENOTDIR);
    assert_eq!(e(r(&mut fs, "/lb")), Errno::ENOTDIR);
    assert_eq!(e(r(&mut fs, "/")), Errno::EBUSY);
    assert_eq!(e(r(&mut fs, "/a/b/.")), Errno::EINVAL);
    assert_eq!(e(r(&mut fs, ".")), Errno::EINVAL);
    assert_eq!(e(r(&mut fs, "/a/b/..")), Errno::ENOTEMPTY);
    assert_eq!(e(r(&mut fs, "/nope")), Errno::ENOENT);
    assert_eq!(e(r(&mut fs, "/a/f/x")), Errno::ENOTDIR);
    assert_eq!(e(r(&mut fs, "")), Errno::ENOENT);
    assert_eq!(fs.stat(a).unwrap().nlink, 3);
    r(&mut fs, "/lb/../b/").unwrap(); // trailing slash fine
    assert_eq!(e(fs.stat(b)), Errno::ENOENT);
    let st = fs.stat(a).unwrap();
    assert_eq!((st.nlink, st.mtime, st.ctime), (2, t(5), t(5)));
    fs.unlink(R, b"/a/f", t(6)).unwrap();
    r(&mut fs, "/a").unwrap();
    assert_eq!(fs.stat(R).unwrap().nlink, 2);
    assert_eq!(names(&fs, R), [".", "..", "lb"]);
    check(&fs);
}

#[test]
fn rmdir_cwd_pinned() {
    let mut fs = new_fs();
    let a = mkdir(&mut fs, "/a");
    let b = mkdir(&mut fs, "/a/b");
    fs.pin(b);
    fs.rmdir(a, b"b", t(3)).unwrap();
    assert_eq!(fs.stat(b).unwrap().nlink, 0);
    assert_eq!(fs.path_of(b), None);
    assert_eq!(fs.lookup(b, b"..", true).unwrap(), a);
    assert_eq!(e(fs.lookup(b, b"x", true)), Errno::ENOENT);
    // rmdir "." of a dead cwd: EINVAL
    assert_eq!(e(fs.rmdir(b, b".", t(3))), Errno::EINVAL);
    // Remove the parent too; ".." then fails cleanly.
    fs.rmdir(R, b"/a", t(3)).unwrap();
    assert_eq!(e(fs.stat(a)), Errno::ENOENT);
    assert_eq!(e(fs.lookup(b, b"..", true)), Errno::ENOENT);
    assert_eq!(e(fs.rename(b, b"x", R, b"y", t(3))), Errno::ENOENT);
    assert_eq!(e(fs.unlink(b, b"x", t(3))), Errno::ENOENT);
    check(&fs);
    fs.unpin(b);
    assert_eq!(fs.inode_count(), 1);
    check(&fs);
}

// ---------------------------------------------------------------------------
// rename

#[test]
fn rename_file_basic() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    let f = create(&mut fs, "/f");
    fs.write(f, 0, b"content", t(2)).unwrap();
    fs.rename(R, b"/f", d, b"g", t(7)).unwrap();
    assert_eq!(look(&fs, "/d/g").unwrap(), f);
    assert_eq!(e(look(&fs, "/f")), Errno::ENOENT);
    assert_eq!(fs.stat(f).unwrap().ctime, t(7));
    assert_eq!(fs.stat(f).unwrap().mtime, t(2));
    assert_eq!(fs.stat(R).unwrap().mtime, t(7));
    assert_eq!(fs.stat(d).unwrap().mtime, t(7));
    assert_eq!(read_all(&fs, f), b"content");
    // Rename within the same directory.
    fs.rename(d, b"g", d, b"h", t(8)).unwrap();
    assert_eq!(names(&fs, d), [".", "..", "h"]);
    check(&fs);
}

#[test]
fn rename_replaces_file() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    let g = create(&mut fs, "/g");
    fs.write(f, 0, b"F", t(2)).unwrap();
    fs.write(g, 0, b"G", t(2)).unwrap();
    fs.rename(R, b"/f", R, b"/g", t(3)).unwrap();
    assert_eq!(look(&fs, "/g").unwrap(), f);
    assert_eq!(e(fs.stat(g)), Errno::ENOENT);
    assert_eq!(fs.inode_count(), 2);
    // Replacing a pinned file keeps it alive with nlink 0.
    let h = create(&mut fs, "/h");
    fs.pin(f);
    fs.rename(R, b"/h", R, b"/g", t(4)).unwrap();
    assert_eq!(fs.stat(f).unwrap().nlink, 0);
    assert_eq!(fs.stat(f).unwrap().ctime, t(4));
    assert_eq!(read_all(&fs, f), b"F");
    assert_eq!(look(&fs, "/g").unwrap(), h);
    check(&fs);
    fs.unpin(f);
    check(&fs);
}

#[test]
fn rename_same_inode_is_noop() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    fs.link(R, b"/f", R, b"/g", t(2)).unwrap();
    let h0 = fs.state_hash();
    fs.rename(R, b"/f", R, b"/g", t(3)).unwrap();
    assert_eq!(look(&fs, "/f").unwrap(), f);
    assert_eq!(look(&fs, "/g").unwrap(), f);
    assert_eq!(fs.stat(f).unwrap().nlink, 2);
    fs.rename(R, b"/f", R, b"/f", t(3)).unwrap();
    let d = mkdir(&mut fs, "/d");
    let h1 = fs.state_hash();
    fs.rename(R, b"/d", R, b"/d", t(9)).unwrap();
    fs.rename(R, b"/d/", R, b"/d/../d", t(9)).unwrap();
    assert_eq!(
        fs.state_hash(),
        h1,
        "no-op rename changes nothing, not even times"
    );
    assert_ne!(h0, h1);
    assert_eq!(look(&fs, "/d").unwrap(), d);
    check(&fs);
}

#[test]
fn rename_directories() {
    let mut fs = new_fs();
    let a = mkdir(&mut fs, "/a");
    let b = mkdir(&mut fs, "/b");
    let c = mkdir(&mut fs, "/a/c");
    create(&mut fs, "/a/c/f");
    // Move /a/c to /b/c: link counts follow.
    fs.rename(R, b"/a/c", R, b"/b/c", t(4)).unwrap();
    assert_eq!(fs.stat(a).unwrap().nlink, 2);
    assert_eq!(fs.stat(b).unwrap().nlink, 3);
    assert_eq!(fs.parent_of(c), Some(b));
    assert_eq!(fs.path_of(c).unwrap(), b"/b/c");
    assert_eq!(fs.lookup(c, b"..", true).unwrap(), b);
    assert!(look(&fs, "/b/c/f").is_ok());
    // Dir over empty dir replaces it.
    let e2 = mkdir(&mut fs, "/a/e");
    fs.rename(R, b"/b/c", R, b"/a/e", t(5)).unwrap();
    assert_eq!(e(fs.stat(e2)), Errno::ENOENT);
    assert_eq!(look(&fs, "/a/e").unwrap(), c);
    assert_eq!(fs.stat(a).unwrap().nlink, 3);
    assert_eq!(fs.stat(b).unwrap().nlink, 2);
    // Dir over empty dir in the same parent.
    let x = mkdir(&mut fs, "/a/x");
    fs.rename(R, b"/a/x", R, b"/a/e2", t(5)).unwrap();
    assert_eq!(look(&fs, "/a/e2").unwrap(), x);
    assert_eq!(fs.stat(a).unwrap().nlink, 4);
    fs.rename(R, b"/a/e2/", R, b"/b/", t(5)).unwrap(); // trailing slashes OK for dirs
    assert_eq!(look(&fs, "/b").unwrap(), x);
    assert_eq!(e(fs.stat(b)), Errno::ENOENT);
    assert_eq!(fs.stat(R).unwrap().nlink, 4);
    check(&fs);
}

#[test]
fn rename_errors() {
    let mut fs = new_fs();
    mkdir(&mut fs, "/a");
    mkdir(&mut fs, "/a/b");
    mkdir(&mut fs, "/a/b/c");
    mkdir(&mut fs, "/e");
    mkdir(&mut fs, "/full");
    create(&mut fs, "/full/x");
    create(&mut fs, "/f");
    create(&mut fs, "/a/b/g");
    fs.symlink(b"/a", R, b"la", t(2)).unwrap();
    let r = |fs: &mut Fs, o: &str, n: &str| e(fs.rename(R, o.as_bytes(), R, n.as_bytes(), t(3)));
    let h = fs.state_hash();
    assert_eq!(r(&mut fs, "/nope", "/x"), Errno::ENOENT);
    assert_eq!(r(&mut fs, "/nope/x", "/x"), Errno::ENOENT);
    assert_eq!(r(&mut fs, "/f", "/nope/x"), Errno::ENOENT);
    assert_eq!(r(&mut fs, "/f", "/f/x"), Errno::ENOTDIR);
    assert_eq!(r(&mut fs, "/f", "/e"), Errno::EISDIR);
    assert_eq!(r(&mut fs, "/e", "/f"), Errno::ENOTDIR);
    assert_eq!(r(&mut fs, "/e", "/full"), Errno::ENOTEMPTY);
    assert_eq!(r(&mut fs, "/a", "/a/b/x"), Errno::EINVAL);
    assert_eq!(r(&mut fs, "/a", "/a/b/c"), Errno::EINVAL);
    assert_eq!(r(&mut fs, "/a", "/la/b"), Errno::EINVAL); // via symlink
    assert_eq!(r(&mut fs, "/a/b", "/a/b/c/d"), Errno::EINVAL);
    assert_eq!(r(&mut fs, "/a/b/c", "/a"), Errno::ENOTEMPTY); // target is an ancestor
    assert_eq!(r(&mut fs, "/a/b/g", "/a"), Errno::ENOTEMPTY); // even for a file
    assert_eq!(r(&mut fs, "/f/", "/x"), Errno::ENOTDIR);
    assert_eq!(r(&mut fs, "/f", "/x/"), Errno::ENOTDIR);
    assert_eq!(r(&mut fs, "/", "/x"), Errno::EBUSY);
    assert_eq!(r(&mut fs, "/a/.", "/x"), Errno::EBUSY);
    assert_eq!(r(&mut fs, "/a/b/..", "/x"), Errno::EBUSY);
    assert_eq!(r(&mut fs, "/f", "/"), Errno::EBUSY);
    assert_eq!(r(&mut fs, "/f", "/e/."), Errno::EBUSY);
    assert_eq!(r(&mut fs, "/f", "/e/.."), Errno::EBUSY);
    assert_eq!(r(&mut fs, "", "/x"), Errno::ENOENT);
    assert_eq!(r(&mut fs, "/f", ""), Errno::ENOENT);
    assert_eq!(fs.state_hash(), h, "failed renames change nothing");
    // Renaming a dir with trailing slash onto a new name works.
    fs.rename(R, b"/e/", R, b"/e2/", t(3)).unwrap();
    // A symlink is renamed, not its target.
    fs.rename(R, b"/la", R, b"/lb", t(3)).unwrap();
    assert_eq!(fs.readlink(R, b"/lb").unwrap(), b"/a");
    check(&fs);
}

#[test]
fn rename_replace_pinned_dir() {
    let mut fs = new_fs();
    let s = mkdir(&mut fs, "/s");
    let d = mkdir(&mut fs, "/d");
    fs.pin(d);
    fs.rename(R, b"/s", R, b"/d", t(3)).unwrap();
    assert_eq!(fs.stat(d).unwrap().nlink, 0);
    assert_eq!(fs.path_of(d), None);
    assert_eq!(look(&fs, "/d").unwrap(), s);
    assert_eq!(fs.stat(R).unwrap().nlink, 3);
    check(&fs);
    fs.unpin(d);
    assert_eq!(fs.inode_count(), 2);
    check(&fs);
}

// ---------------------------------------------------------------------------
// read / write / truncate

#[test]
fn write_read_basic() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    assert_eq!(fs.write(f, 0, b"hello world", t(3)).unwrap(), 11);
    let st = fs.stat(f).unwrap();
    assert_eq!(
        (st.size, st.blocks, st.mtime, st.ctime),
        (11, 8, t(3), t(3))
    );
    let mut buf = [0u8; 5];
    assert_eq!(fs.read(f, 6, &mut buf).unwrap(), 5);
    assert_eq!(&buf, b"world");
    assert_eq!(fs.read(f, 8, &mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"rld");
    assert_eq!(fs.read(f, 11, &mut buf).unwrap(), 0);
    assert_eq!(fs.read(f, 1 << 50, &mut buf).unwrap(), 0);
    assert_eq!(fs.read(f, 0, &mut []).unwrap(), 0);
    // Overwrite in the middle.
    fs.write(f, 4, b"O W", t(4)).unwrap();
    assert_eq!(read_all(&fs, f), b"hellO World");
    // Empty write changes nothing.
    let h = fs.state_hash();
    assert_eq!(fs.write(f, 100, b"", t(9)).unwrap(), 0);
    assert_eq!(fs.state_hash(), h);
    assert_eq!(fs.stat(f).unwrap().size, 11);
    assert_eq!(fs.bytes_used(), 4096);
}

#[test]
fn write_across_pages() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    let data: Vec<u8> = (0..20000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(fs.write(f, 4000, &data, t(3)).unwrap(), data.len());
    let st = fs.stat(f).unwrap();
    assert_eq!(st.size, 24000);
    assert_eq!(st.blocks, 6 * 8); // pages 0..=5
    let all = read_all(&fs, f);
    assert!(all[..4000].iter().all(|&b| b == 0));
    assert_eq!(&all[4000..], &data[..]);
    // Unaligned reads spanning pages.
    let mut buf = vec![0; 9000];
    assert_eq!(fs.read(f, 4090, &mut buf).unwrap(), 9000);
    assert_eq!(&buf[..], &all[4090..13090]);
    check(&fs);
}

#[test]
fn holes_read_zero_and_stay_unallocated() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    fs.write(f, 10 * 4096 + 5, b"x", t(3)).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!(st.size, 10 * 4096 + 6);
    assert_eq!(st.blocks, 8);
    assert_eq!(fs.bytes_used(), 4096);
    let all = read_all(&fs, f);
    assert!(all[..10 * 4096 + 5].iter().all(|&b| b == 0));
    assert_eq!(all[10 * 4096 + 5], b'x');
    // A huge sparse file.
    let g = create(&mut fs, "/g");
    fs.write(g, (1 << 39) + 123, b"far", t(3)).unwrap();
    assert_eq!(fs.stat(g).unwrap().size, (1 << 39) + 126);
    assert_eq!(fs.stat(g).unwrap().blocks, 8);
    let mut buf = [1u8; 6];
    assert_eq!(fs.read(g, (1 << 39) + 120, &mut buf).unwrap(), 6);
    assert_eq!(&buf, b"\0\0\0far");
    let mut buf = [1u8; 100];
    assert_eq!(fs.read(g, 1 << 30, &mut buf).unwrap(), 100);
    assert!(buf.iter().all(|&b| b == 0));
    check(&fs);
}

#[test]
fn write_limits() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    assert_eq!(e(fs.write(f, MAX_FILE_SIZE, b"x", t(3))), Errno::EFBIG);
    assert_eq!(e(fs.write(f, u64::MAX, b"x", t(3))), Errno::EFBIG);
    assert_eq!(fs.write(f, MAX_FILE_SIZE, b"", t(3)).unwrap(), 0);
    // A write crossing the limit is short.
    assert_eq!(fs.write(f, MAX_FILE_SIZE - 2, b"abcd", t(3)).unwrap(), 2);
    assert_eq!(fs.stat(f).unwrap().size, MAX_FILE_SIZE);
    let d = mkdir(&mut fs, "/d");
    assert_eq!(e(fs.write(d, 0, b"x", t(3))), Errno::EISDIR);
    assert_eq!(e(fs.read(d, 0, &mut [0; 4])), Errno::EISDIR);
    assert_eq!(e(fs.write(999, 0, b"x", t(3))), Errno::ENOENT);
    let l = fs.symlink(b"/f", R, b"l", t(2)).unwrap();
    assert_eq!(e(fs.write(l, 0, b"x", t(3))), Errno::EINVAL);
    assert_eq!(e(fs.read(l, 0, &mut [0; 4])), Errno::EINVAL);
    check(&fs);
}

#[test]
fn truncate_shrink_then_extend_reads_zeros() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    fs.write(f, 0, &[0xFF; 3 * 4096], t(3)).unwrap();
    fs.truncate(f, 5000, t(4)).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!(
        (st.size, st.blocks, st.mtime, st.ctime),
        (5000, 16, t(4), t(4))
    );
    fs.truncate(f, 3 * 4096, t(5)).unwrap();
    let all = read_all(&fs, f);
    assert!(all[..5000].iter().all(|&b| b == 0xFF));
    assert!(all[5000..].iter().all(|&b| b == 0));
    assert_eq!(fs.stat(f).unwrap().blocks, 16); // growth allocates nothing
                                                // Writing past EOF after a shrink also shows zeros in between.
    fs.truncate(f, 100, t(6)).unwrap();
    fs.write(f, 200, b"z", t(6)).unwrap();
    let all = read_all(&fs, f);
    assert_eq!(all.len(), 201);
    assert!(all[..100].iter().all(|&b| b == 0xFF));
    assert!(all[100..200].iter().all(|&b| b == 0));
    // Shrink to a page boundary and to 0.
    fs.truncate(f, 4096, t(7)).unwrap();
    assert_eq!(fs.stat(f).unwrap().blocks, 8);
    fs.truncate(f, 0, t(7)).unwrap();
    assert_eq!(fs.stat(f).unwrap().blocks, 0);
    assert_eq!(fs.bytes_used(), 0);
    // Truncate always updates times (like ftruncate), even without change.
    fs.truncate(f, 0, t(8)).unwrap();
    assert_eq!(fs.stat(f).unwrap().mtime, t(8));
    check(&fs);
}

#[test]
fn truncate_errors() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    let d = mkdir(&mut fs, "/d");
    assert_eq!(e(fs.truncate(d, 0, t(2))), Errno::EISDIR);
    assert_eq!(e(fs.truncate(f, MAX_FILE_SIZE + 1, t(2))), Errno::EFBIG);
    fs.truncate(f, MAX_FILE_SIZE, t(2)).unwrap();
    assert_eq!(fs.stat(f).unwrap().blocks, 0);
    assert_eq!(e(fs.truncate(777, 0, t(2))), Errno::ENOENT);
}

// ---------------------------------------------------------------------------
// chmod / set_times

#[test]
fn chmod_and_times() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    fs.chmod(f, 0o104755, t(5)).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!(st.mode, S_IFREG | 0o4755);
    assert_eq!(st.ctime, t(5));
    assert_eq!(st.mtime, t(2));
    let d = mkdir(&mut fs, "/d");
    fs.chmod(d, 0o700, t(5)).unwrap();
    assert_eq!(fs.stat(d).unwrap().mode, S_IFDIR | 0o700);
    assert_eq!(e(fs.chmod(1234, 0o700, t(5))), Errno::ENOENT);

    fs.set_times(f, Some(Timespec::new(100, 5)), None, t(6))
        .unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!(
        (st.atime, st.mtime, st.ctime),
        (Timespec::new(100, 5), t(2), t(6))
    );
    fs.set_times(f, None, Some(Timespec::new(200, 7)), t(7))
        .unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!(
        (st.atime, st.mtime, st.ctime),
        (Timespec::new(100, 5), Timespec::new(200, 7), t(7))
    );
    fs.set_times(f, None, None, t(8)).unwrap();
    assert_eq!(fs.stat(f).unwrap().ctime, t(7));
    fs.set_times(f, Some(t(1)), Some(t(1)), t(9)).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!((st.atime, st.mtime, st.ctime), (t(1), t(1), t(9)));
    assert_eq!(e(fs.set_times(1234, Some(t(1)), None, t(5))), Errno::ENOENT);
}

#[test]
fn reads_do_not_touch_atime() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    fs.write(f, 0, b"x", t(3)).unwrap();
    let h = fs.state_hash();
    let mut b = [0; 1];
    fs.read(f, 0, &mut b).unwrap();
    assert_eq!(fs.state_hash(), h);
    assert_eq!(fs.stat(f).unwrap().atime, t(2));
}

// ---------------------------------------------------------------------------
// readdir

#[test]
fn readdir_order_and_cookies() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    for n in ["c", "a", "b"] {
        create(&mut fs, &format!("/d/{n}"));
    }
    let sub = mkdir(&mut fs, "/d/sub");
    let (all, _) = fs.readdir(d, 0, 100).unwrap();
    let got: Vec<_> = all.iter().map(|e| (e.name.clone(), e.kind)).collect();
    assert_eq!(
        got,
        [
            (b".".to_vec(), FileType::Directory),
            (b"..".to_vec(), FileType::Directory),
            (b"c".to_vec(), FileType::Regular),
            (b"a".to_vec(), FileType::Regular),
            (b"b".to_vec(), FileType::Regular),
            (b"sub".to_vec(), FileType::Directory),
        ]
    );
    assert_eq!(all[0].ino, d);
    assert_eq!(all[1].ino, R);
    assert_eq!(all[5].ino, sub);
    // Paging by 2 gives the same sequence.
    let mut cookie = 0;
    let mut paged = Vec::new();
    loop {
        let (ents, next) = fs.readdir(d, cookie, 2).unwrap();
        if ents.is_empty() {
            assert_eq!(next, cookie);
            break;
        }
        assert!(ents.len() <= 2);
        paged.extend(ents);
        cookie = next;
    }
    assert_eq!(paged, all);
    // max == 0
    let (ents, next) = fs.readdir(d, 0, 0).unwrap();
    assert!(ents.is_empty());
    assert_eq!(next, 0);
    // with cookies: each entry's cookie continues right after it
    let with = fs.readdir_with_cookies(d, 0, 100).unwrap();
    for (i, (_, c)) in with.iter().enumerate() {
        let (rest, _) = fs.readdir(d, *c, 100).unwrap();
        assert_eq!(rest, all[i + 1..]);
    }
    // root's ".." is root
    let (r, _) = fs.readdir(R, 0, 2).unwrap();
    assert_eq!((r[0].ino, r[1].ino), (R, R));
    // errors
    let f = look(&fs, "/d/a").unwrap();
    assert_eq!(e(fs.readdir(f, 0, 10)), Errno::ENOTDIR);
    assert_eq!(e(fs.readdir(4242, 0, 10)), Errno::ENOENT);
}

#[test]
fn readdir_cookies_while_deleting_and_adding() {
    let mut fs = new_fs();
    let d = mkdir(&mut fs, "/d");
    for i in 0..10 {
        create(&mut fs, &format!("/d/f{i}"));
    }
    // Read 4 entries (".", "..", f0, f1), then delete f1, f2 and f5, add n1.
    let (first, cookie) = fs.readdir(d, 0, 4).unwrap();
    assert_eq!(first.last().unwrap().name, b"f1");
    for n in ["f1", "f2", "f5"] {
        fs.unlink(d, n.as_bytes(), t(3)).unwrap();
    }
    create(&mut fs, "/d/n1");
    let (rest, _) = fs.readdir(d, cookie, 100).unwrap();
    let rest: Vec<_> = rest
        .into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .collect();
    assert_eq!(rest, ["f3", "f4", "f6", "f7", "f8", "f9", "n1"]);
    // Deleting everything while iterating one by one (like rm -r) visits each once.
    let mut cookie = 2;
    let mut seen = Vec::new();
    loop {
        let (ents, next) = fs.readdir(d, cookie, 1).unwrap();
        let Some(ent) = ents.into_iter().next() else {
            break;
        };
        fs.unlink(d, &ent.name, t(4)).unwrap();
        seen.push(String::from_utf8(ent.name).unwrap());
        cookie = next;
    }
    assert_eq!(seen, ["f0", "f3", "f4", "f6", "f7", "f8", "f9", "n1"]);
    assert_eq!(names(&fs, d), [".", ".."]);
    fs.rmdir(R, b"/d", t(5)).unwrap();
    check(&fs);
}

// ---------------------------------------------------------------------------
// path_of / parent_of

#[test]
fn path_of_dirs() {
    let mut fs = new_fs();
    let a = mkdir(&mut fs, "/a");
    let b = mkdir(&mut fs, "/a/b");
    let c = mkdir(&mut fs, "/a/b/c");
    let f = create(&mut fs, "/a/f");
    assert_eq!(fs.path_of(a).unwrap(), b"/a");
    assert_eq!(fs.path_of(c).unwrap(), b"/a/b/c");
    assert_eq!(fs.parent_of(c), Some(b));
    assert_eq!(fs.path_of(f), None);
    assert_eq!(fs.parent_of(f), None);
    assert_eq!(fs.path_of(999), None);
    fs.rename(R, b"/a/b", R, b"/z", t(3)).unwrap();
    assert_eq!(fs.path_of(c).unwrap(), b"/z/c");
    assert_eq!(fs.parent_of(b), Some(R));
    // path_of round-trips through lookup
    assert_eq!(
        look(&fs, std::str::from_utf8(&fs.path_of(c).unwrap()).unwrap()).unwrap(),
        c
    );
}

// ---------------------------------------------------------------------------
// clone / hash / accounting

#[test]
fn clone_shares_pages_and_is_isolated() {
    let mut fs = new_fs();
    let f = create(&mut fs, "/f");
    fs.write(f, 0, &[1u8; 3 * 4096], t(3)).unwrap();
    let snapshot = fs.clone();
    assert_eq!(snapshot.state_hash(), fs.state_hash());
    fs.write(f, 4096 + 10, b"changed", t(4)).unwrap();
    fs.truncate(f, 5000, t(4)).unwrap();
    create(&mut fs, "/g");
    assert_ne!(snapshot.state_hash(), fs.state_hash());
    let old = read_all(&snapshot, f);
    assert_eq!(old, vec![1u8; 3 * 4096]);
    assert_eq!(e(snapshot.lookup(R, b"/g", true)), Errno::ENOENT);
    let new = read_all(&fs, f);
    assert_eq!(&new[4096 + 10..4096 + 17], b"changed");
    snapshot.check_invariants().unwrap();
    check(&fs);
}

#[test]
fn hash_is_deterministic_and_sensitive() {
    let build = |extra: u8| {
        let mut fs = new_fs();
        mkdir(&mut fs, "/d");
        let f = create(&mut fs, "/d/f");
        fs.write(f, 100, &[extra; 10], t(3)).unwrap();
        fs.symlink(b"d/f", R, b"l", t(3)).unwrap();
        fs
    };
    assert_eq!(build(1).state_hash(), build(1).state_hash());
    assert_ne!(build(1).state_hash(), build(2).state_hash());
    let base = build(1);
    let h = base.state_hash();
    let f = look(&base, "/d/f").unwrap();
    let mut x = base.clone();
    x.chmod(f, 0o600, t(3)).unwrap();
    assert_ne!(x.state_hash(), h);
    let mut x = base.clone();
    x.set_times(f, Some(t(3)), None, t(3)).unwrap();
    assert_ne!(x.state_hash(), h);
    let mut x = base.clone();
    x.pin(f);
    assert_ne!(x.state_hash(), h);
    let mut x = base.clone();
    x.write(f, 4000, &[0], t(3)).unwrap(); // size change only, same time
    assert_ne!(x.state_hash(), h);
    let mut x = base.clone();
    x.rename(R, b"/l", R, b"/m", t(3)).unwrap();
    assert_ne!(x.state_hash(), h);
}

#[test]
fn create_file_with_data_and_mkdir_all() {
    let mut fs = new_fs();
    let f = fs
        .create_file_with_data(b"/bin/sub/prog", 0o755, b"\x7fELF....", t(10))
        .unwrap();
    assert_eq!(read_all(&fs, f), b"\x7fELF....");
    let st = fs.stat(f).unwrap();
    assert_eq!(st.mode, S_IFREG | 0o755);
    assert_eq!((st.atime, st.mtime, st.ctime), (t(10), t(10), t(10)));
    let bin = look(&fs, "/bin").unwrap();
    assert_eq!(fs.stat(bin).unwrap().mode, S_IFDIR | 0o755);
    // Replacing contents
    let f2 = fs
        .create_file_with_data(b"bin/sub/prog", 0o644, b"short", t(11))
        .unwrap();
    assert_eq!(f, f2);
    assert_eq!(read_all(&fs, f), b"short");
    assert_eq!(fs.stat(f).unwrap().mode, S_IFREG | 0o644);
    // mkdir_all keeps existing dirs, follows symlinks to dirs
    fs.symlink(b"/bin", R, b"/lbin", t(11)).unwrap();
    let x = fs.mkdir_all(b"/lbin/sub/x/y", 0o700, t(12)).unwrap();
    assert_eq!(fs.path_of(x).unwrap(), b"/bin/sub/x/y");
    assert_eq!(fs.mkdir_all(b"/", 0o700, t(12)).unwrap(), R);
    assert_eq!(
        e(fs.mkdir_all(b"/bin/sub/prog/z", 0o700, t(12))),
        Errno::ENOTDIR
    );
    assert_eq!(fs.stat(x).unwrap().mode, S_IFDIR | 0o700);
    let xp = look(&fs, "/bin/sub/x").unwrap();
    assert_eq!(fs.stat(xp).unwrap().mode, S_IFDIR | 0o755);
    assert_eq!(
        e(fs.create_file_with_data(b"/bin", 0o644, b"", t(12))),
        Errno::EISDIR
    );
    assert_eq!(
        e(fs.create_file_with_data(b"/bin/", 0o644, b"", t(12))),
        Errno::ENOENT
    );
    assert_eq!(
        e(fs.create_file_with_data(b"", 0o644, b"", t(12))),
        Errno::ENOENT
    );
    let top = fs
        .create_file_with_data(b"top", 0o600, b"t", t(12))
        .unwrap();
    assert_eq!(look(&fs, "/top").unwrap(), top);
    check(&fs);
}

#[test]
fn debug_impl() {
    let fs = new_fs();
    let s = format!("{fs:?}");
    assert!(s.contains("inodes: 1"));
}

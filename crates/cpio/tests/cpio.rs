use cpio::{decompress_if_gzip, entries, Entry, Error, Writer, DEFAULT_LIMIT};
use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;
use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn sample() -> Vec<u8> {
    let mut w = Writer::new();
    w.add_dir(b".", 0o755, 1).unwrap();
    w.add_dir(b"bin", 0o755, 2).unwrap();
    w.add_file(b"bin/hello", 0o755, 3, b"hello world\n")
        .unwrap();
    w.add_file(b"empty", 0o644, 4, b"").unwrap();
    w.add_symlink(b"bin/sh", b"hello", 5).unwrap();
    w.add_node(b"console", cpio::S_IFCHR | 0o600, 6, (5, 1))
        .unwrap();
    w.add_file(b"a", 0o600, 7, b"x").unwrap();
    w.add_file(b"abc", 0o600, 8, b"xyz").unwrap();
    w.add_file(b"abcd", 0o600, 9, b"wxyz1").unwrap();
    w.finish()
}

fn all(a: &[u8]) -> Result<Vec<Entry<'_>>, Error> {
    entries(a).collect()
}

#[test]
fn round_trip() {
    let a = sample();
    assert_eq!(a.len() % 4, 0);
    let es = all(&a).unwrap();
    let names: Vec<&[u8]> = es.iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
            &b"."[..],
            b"bin",
            b"bin/hello",
            b"empty",
            b"bin/sh",
            b"console",
            b"a",
            b"abc",
            b"abcd"
        ]
    );
    assert!(es[0].is_dir() && es[0].perm() == 0o755 && es[0].nlink == 2 && es[0].mtime == 1);
    assert!(es[2].is_file() && es[2].data == b"hello world\n" && es[2].mtime == 3);
    assert!(es[3].is_file() && es[3].data.is_empty());
    assert!(es[4].is_symlink() && es[4].data == b"hello" && es[4].mode == 0o120777);
    assert_eq!(es[5].file_type(), cpio::S_IFCHR);
    assert_eq!((es[5].rdev_major, es[5].rdev_minor), (5, 1));
    assert_eq!(es[8].data, b"wxyz1");
    // Distinct inode numbers.
    let mut inos: Vec<u32> = es.iter().map(|e| e.ino).collect();
    inos.sort();
    inos.dedup();
    assert_eq!(inos.len(), es.len());
    // add_entry copies members exactly.
    let mut w = Writer::new();
    for e in &es {
        w.add_entry(e).unwrap();
    }
    assert_eq!(w.finish(), a);
}

#[test]
fn writer_rejects_bad_names() {
    let mut w = Writer::new();
    assert!(matches!(
        w.add_file(b"", 0o644, 0, b""),
        Err(Error::BadName(_))
    ));
    assert!(matches!(
        w.add_file(b"a\0b", 0o644, 0, b""),
        Err(Error::BadName(_))
    ));
    assert_eq!(entries(&w.finish()).count(), 0);
}

#[test]
fn truncation_is_an_error() {
    let a = sample();
    // Offset where the trailer's header starts; an archive cut before the end
    // of the trailer's name is truncated.
    let mut it = entries(&a);
    for e in it.by_ref() {
        e.unwrap();
    }
    let trailer_name_end = a.len() - 3; // 110 + 11 = 121 -> padded to 124
    for n in 0..trailer_name_end {
        let r: Result<Vec<_>, _> = entries(&a[..n]).collect();
        assert!(r.is_err(), "prefix of {n} bytes parsed");
    }
    // The trailer's final padding may be missing.
    assert!(all(&a[..trailer_name_end]).is_ok());
}

#[test]
fn bad_magic_and_hex() {
    let mut a = sample();
    a[0] = b'1';
    assert_eq!(entries(&a).next(), Some(Err(Error::BadMagic(0))));
    let mut a = sample();
    a[10] = b'z';
    assert_eq!(entries(&a).next(), Some(Err(Error::BadHex(0))));
    // An error ends the iteration.
    let mut it = entries(&a);
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}

#[test]
fn crc_format_checksum() {
    // Turn the "bin/hello" member into 070702 with a right, then a wrong, checksum.
    let a = sample();
    let mut pos = 0;
    let mut it = entries(&a);
    while let Some(e) = it.next() {
        let e = e.unwrap();
        if e.name == b"bin/hello" {
            break;
        }
        pos = it.offset();
    }
    let sum: u32 = b"hello world\n".iter().map(|&b| u32::from(b)).sum();
    let mut good = a.clone();
    good[pos..pos + 6].copy_from_slice(b"070702");
    good[pos + 102..pos + 110].copy_from_slice(format!("{sum:08X}").as_bytes());
    assert_eq!(all(&good).unwrap().len(), 9);
    let mut bad = good.clone();
    bad[pos + 109] ^= 1;
    assert_eq!(all(&bad), Err(Error::BadChecksum(pos)));
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_round_trip() {
    let a = sample();
    assert!(matches!(
        decompress_if_gzip(&a, DEFAULT_LIMIT).unwrap(),
        Cow::Borrowed(_)
    ));
    let z = gz(&a);
    let d = decompress_if_gzip(&z, DEFAULT_LIMIT).unwrap();
    assert!(matches!(d, Cow::Owned(_)));
    assert_eq!(&*d, &a[..]);
    assert_eq!(all(&d).unwrap().len(), 9);

    // Larger, compressible and incompressible data, multi-member, zero padding.
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut z = gz(&big);
    z.extend_from_slice(&gz(b"tail"));
    z.extend_from_slice(&[0; 512]);
    let d = decompress_if_gzip(&z, DEFAULT_LIMIT).unwrap();
    assert_eq!(d.len(), big.len() + 4);
    assert_eq!(&d[..big.len()], &big[..]);
    assert_eq!(&d[big.len()..], b"tail");

    // A single member is inflated into a buffer of exactly the right size.
    let v = cpio::gunzip(&gz(&big), DEFAULT_LIMIT).unwrap();
    assert_eq!(v.len(), big.len());
    assert_eq!(v.capacity(), big.len());

    // Empty input stream.
    assert_eq!(&*decompress_if_gzip(&gz(b""), DEFAULT_LIMIT).unwrap(), b"");
}

#[test]
fn gzip_header_fields() {
    // FNAME + FCOMMENT + FEXTRA + FHCRC, built by hand around a flate2 deflate stream.
    let raw = {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::best());
        e.write_all(b"payload").unwrap();
        e.finish().unwrap()
    };
    let mut z = vec![0x1f, 0x8b, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3];
    z.extend_from_slice(&3u16.to_le_bytes());
    z.extend_from_slice(b"xyz");
    z.extend_from_slice(b"name.cpio\0");
    z.extend_from_slice(b"a comment\0");
    z.extend_from_slice(&[0xab, 0xcd]);
    z.extend_from_slice(&raw);
    z.extend_from_slice(&cpio::crc32(b"payload").to_le_bytes());
    z.extend_from_slice(&7u32.to_le_bytes());
    assert_eq!(&*decompress_if_gzip(&z, 100).unwrap(), b"payload");
}

#[test]
fn gzip_errors() {
    let a = sample();
    let z = gz(&a);
    // Every truncation fails.
    for n in 2..z.len() {
        assert!(
            decompress_if_gzip(&z[..n], DEFAULT_LIMIT).is_err(),
            "prefix {n}"
        );
    }
    // CRC and length are checked.
    let mut bad = z.clone();
    let l = bad.len();
    bad[l - 8] ^= 1;
    assert_eq!(decompress_if_gzip(&bad, DEFAULT_LIMIT), Err(Error::BadGzip));
    let mut bad = z.clone();
    bad[l - 1] ^= 1;
    assert_eq!(decompress_if_gzip(&bad, DEFAULT_LIMIT), Err(Error::BadGzip));
    // Trailing garbage.
    let mut bad = z.clone();
    bad.extend_from_slice(b"junk");
    assert_eq!(decompress_if_gzip(&bad, DEFAULT_LIMIT), Err(Error::BadGzip));
    // Bomb: 64 MiB of zeros with a 1 MiB limit.
    let bomb = gz(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 100_000);
    assert_eq!(decompress_if_gzip(&bomb, 1 << 20), Err(Error::TooLarge));
    // Exactly at the limit is fine.
    let z = gz(&[7u8; 1000]);
    assert_eq!(decompress_if_gzip(&z, 1000).unwrap().len(), 1000);
    assert_eq!(decompress_if_gzip(&z, 999), Err(Error::TooLarge));
}

#[test]
fn gzip_cli_interop() {
    if Command::new("gzip").arg("--version").output().is_err() {
        eprintln!("SKIP: gzip not installed");
        return;
    }
    let a = sample();
    let mut child = Command::new("gzip")
        .args(["-9", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&a).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        &*decompress_if_gzip(&out.stdout, DEFAULT_LIMIT).unwrap(),
        &a[..]
    );
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpio-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn have_cpio() -> bool {
    if Command::new("cpio").arg("--version").output().is_ok() {
        return true;
    }
    eprintln!("SKIP: the cpio tool is not installed (apt-get install cpio)");
    false
}

fn populate(d: &Path) {
    use std::os::unix::fs::symlink;
    std::fs::create_dir_all(d.join("bin")).unwrap();
    std::fs::create_dir_all(d.join("etc/deep/er")).unwrap();
    std::fs::write(d.join("bin/tool"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::write(d.join("etc/deep/er/f"), vec![0xa5u8; 10_001]).unwrap();
    std::fs::write(d.join("etc/empty"), b"").unwrap();
    symlink("../bin/tool", d.join("etc/link")).unwrap();
}

#[test]
fn reads_archive_from_cpio_tool() {
    if !have_cpio() {
        return;
    }
    let d = tempdir("read");
    populate(&d);
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . | LC_ALL=C sort | cpio -o -H newc --quiet")
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = out.stdout;
    let es = all(&a).unwrap();
    let mut seen = 0;
    for e in &es {
        let p = d.join(std::str::from_utf8(e.path()).unwrap());
        let md = std::fs::symlink_metadata(&p).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(e.mode, md.mode(), "{p:?}");
        assert_eq!(e.ino, md.ino() as u32);
        if e.is_file() {
            assert_eq!(e.data, &std::fs::read(&p).unwrap()[..]);
        } else if e.is_symlink() {
            assert_eq!(e.data, b"../bin/tool");
        }
        seen += 1;
    }
    // ., bin, bin/tool, etc, etc/deep, etc/deep/er, etc/deep/er/f, etc/empty, etc/link
    assert_eq!(seen, 9);
    assert!(es
        .iter()
        .any(|e| e.path() == b"etc/deep/er/f" && e.data.len() == 10_001));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn cpio_tool_reads_our_archive() {
    if !have_cpio() {
        return;
    }
    let d = tempdir("write");
    let a = sample();
    let mut child = Command::new("cpio")
        .args(["-i", "-d", "-m", "--quiet", "--no-absolute-filenames"])
        .current_dir(&d)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&a).unwrap();
    let out = child.wait_with_output().unwrap();
    // The device node needs privileges; everything else must be there.
    let _ = out;
    assert_eq!(
        std::fs::read(d.join("bin/hello")).unwrap(),
        b"hello world\n"
    );
    assert_eq!(
        std::fs::read_link(d.join("bin/sh")).unwrap(),
        Path::new("hello")
    );
    assert_eq!(std::fs::read(d.join("abcd")).unwrap(), b"wxyz1");
    assert_eq!(std::fs::read(d.join("empty")).unwrap(), b"");
    let list = Command::new("cpio")
        .args(["-i", "-t", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut list = list.unwrap();
    list.stdin.take().unwrap().write_all(&a).unwrap();
    let out = list.wait_with_output().unwrap();
    assert!(out.status.success());
    let names = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        [
            ".",
            "bin",
            "bin/hello",
            "empty",
            "bin/sh",
            "console",
            "a",
            "abc",
            "abcd"
        ]
    );
    let _ = std::fs::remove_dir_all(&d);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for e in entries(&bytes) {
            let _ = e;
        }
        let _ = decompress_if_gzip(&bytes, 1 << 16);
        let mut z = vec![0x1f, 0x8b];
        z.extend_from_slice(&bytes);
        let _ = decompress_if_gzip(&z, 1 << 16);
    }

    #[test]
    fn mutated_archives_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                                    cut in any::<prop::sample::Index>()) {
        let mut a = sample();
        for (i, v) in edits {
            let i = i.index(a.len());
            a[i] = v;
        }
        let n = cut.index(a.len() + 1);
        let r: Result<Vec<_>, _> = entries(&a[..n]).collect();
        // Whatever parses lies inside the input.
        if let Ok(es) = r {
            for e in es {
                prop_assert!(e.data.len() <= n && e.name.len() <= n);
            }
        }
    }

    #[test]
    fn mutated_gzip_never_panics(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut z = gz(&sample());
        for (i, v) in edits {
            let i = i.index(z.len());
            z[i] = v;
        }
        let _ = decompress_if_gzip(&z, 1 << 20);
    }

    #[test]
    fn writer_reader_agree(files in proptest::collection::vec(("[a-z]{1,12}", proptest::collection::vec(any::<u8>(), 0..40)), 0..10)) {
        let mut w = Writer::new();
        for (name, data) in &files {
            w.add_file(name.as_bytes(), 0o644, 0, data).unwrap();
        }
        let a = w.finish();
        let es = all(&a).unwrap();
        prop_assert_eq!(es.len(), files.len());
        for (e, (name, data)) in es.iter().zip(&files) {
            prop_assert_eq!(e.name, name.as_bytes());
            prop_assert_eq!(e.data, &data[..]);
        }
    }
}

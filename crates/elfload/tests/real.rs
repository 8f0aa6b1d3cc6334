//! Real binaries from the host: busybox-static, musl static and static-PIE,
//! glibc static, and a dynamic one.

mod common;

use common::*;
use elfload::*;
use std::path::Path;

const PIE_BIAS: u64 = 0x5555_5555_4000;

fn check_against_readelf(bytes: &[u8], elf: &Elf, tag: &str) {
    let d = tempdir(&format!("readelf-{tag}"));
    let p = d.join("bin");
    std::fs::write(&p, bytes).unwrap();
    let Some(loads) = readelf_loads(&p) else {
        eprintln!("SKIP: readelf not available");
        return;
    };
    let ours: Vec<_> = elf
        .segments
        .iter()
        .map(|s| (s.offset, s.vaddr, s.filesz, s.memsz, s.flags))
        .collect();
    let theirs: Vec<_> = loads.into_iter().filter(|l| l.3 != 0).collect();
    assert_eq!(ours, theirs, "PT_LOAD segments vs readelf");
    let _ = std::fs::remove_dir_all(&d);
}

fn check_static(bytes: &[u8], tag: &str) -> Elf {
    let elf = parse(bytes).unwrap();
    check_against_readelf(bytes, &elf, tag);
    assert_eq!(elf.phentsize, 56);
    match elf.kind {
        Kind::Exec => {
            let p = plan(&elf, 0).unwrap();
            check_plan(bytes, &elf, &p);
            assert_eq!(plan(&elf, PIE_BIAS), Err(Error::BadBias));
            assert_ne!(p.phdr_vaddr, 0);
        }
        Kind::Dyn => {
            for bias in [PIE_BIAS, 0x7f00_0000_0000, 0x10000] {
                let p = plan(&elf, bias).unwrap();
                check_plan(bytes, &elf, &p);
                assert_ne!(p.phdr_vaddr, 0);
            }
            assert_eq!(plan(&elf, PIE_BIAS + 1), Err(Error::BadBias));
            assert_eq!(plan(&elf, USER_END - 4096), Err(Error::AddressRange));
        }
    }
    assert!(!elf.stack_exec);
    elf
}

#[test]
fn busybox_static() {
    let path = Path::new("/bin/busybox");
    let Ok(bytes) = std::fs::read(path) else {
        eprintln!("SKIP: /bin/busybox missing (apt-get install busybox-static)");
        return;
    };
    match parse(&bytes) {
        Err(Error::Dynamic) => {
            eprintln!("SKIP: /bin/busybox is dynamically linked (install busybox-static)");
        }
        r => {
            let elf = r.unwrap();
            check_static(&bytes, "busybox");
            eprintln!(
                "busybox: {:?}, {} segments, entry {:#x}",
                elf.kind,
                elf.segments.len(),
                elf.entry
            );
        }
    }
}

#[test]
fn musl_static() {
    let Some(bytes) = build_c("musl-gcc", &["-static"], "musl-static") else {
        return;
    };
    let elf = check_static(&bytes, "musl-static");
    assert_eq!(elf.kind, Kind::Exec);
    let tls = elf.tls.expect("PT_TLS for __thread");
    assert!(tls.memsz >= 4 && tls.filesz >= 4);
    // The 100000-byte .bss: the highest segment has memsz well above filesz.
    let last = elf.segments.last().unwrap();
    assert!(last.memsz - last.filesz >= 100_000);
}

#[test]
fn musl_static_pie() {
    let Some(bytes) = build_musl_static_pie("musl-pie") else {
        return;
    };
    let elf = check_static(&bytes, "musl-pie");
    assert_eq!(elf.kind, Kind::Dyn);
    assert!(elf.tls.is_some());
    assert_eq!(elf.segments[0].vaddr & !0xfff, 0, "static-PIE links at 0");
}

#[test]
fn debian_musl_gcc_static_pie_is_dynamic() {
    // Documents a host pitfall: the musl-gcc wrapper's -static-pie keeps PT_INTERP.
    let Some(bytes) = build_c("musl-gcc", &["-static-pie", "-fPIE"], "musl-pie-wrapper") else {
        return;
    };
    if let Err(e) = parse(&bytes) {
        assert_eq!(e, Error::Dynamic);
    }
}

#[test]
fn glibc_static() {
    let Some(bytes) = build_c("gcc", &["-static"], "glibc-static") else {
        return;
    };
    let elf = check_static(&bytes, "glibc-static");
    assert_eq!(elf.kind, Kind::Exec);
}

#[test]
fn glibc_static_pie() {
    let Some(bytes) = build_c("gcc", &["-static-pie", "-fPIE"], "glibc-pie") else {
        return;
    };
    let elf = check_static(&bytes, "glibc-pie");
    assert_eq!(elf.kind, Kind::Dyn);
}

#[test]
fn dynamic_is_refused() {
    for p in ["/bin/ls", "/usr/bin/env", "/bin/sh"] {
        let Ok(bytes) = std::fs::read(p) else {
            continue;
        };
        // /bin/sh could be busybox-static on some systems.
        if let Err(e) = parse(&bytes) {
            assert_eq!(e, Error::Dynamic, "{p}");
            assert_eq!(e.errno(), abi::Errno::ENOEXEC);
        } else {
            assert_ne!(p, "/bin/ls", "/bin/ls parsed as static");
        }
    }
    let Some(bytes) = build_c("gcc", &[], "glibc-dynamic") else {
        return;
    };
    assert_eq!(parse(&bytes), Err(Error::Dynamic));
}

#[test]
fn not_executables() {
    // A relocatable object and a shared library are refused.
    if let Ok(bytes) = std::fs::read("/usr/lib/x86_64-linux-musl/crt1.o") {
        assert_eq!(parse(&bytes), Err(Error::BadType));
    }
    let cargo_toml = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    assert_eq!(parse(&cargo_toml), Err(Error::BadMagic));
}

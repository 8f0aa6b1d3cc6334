//! The initial stack: decode the image as a program would.

use elfload::auxv::*;
use elfload::*;
use proptest::prelude::*;

struct Decoded {
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    auxv: Vec<(u64, u64)>,
}

/// Reads the image as the process sees it at `rsp`.
fn decode(img: &[u8], rsp: u64, stack_top: u64) -> Decoded {
    assert_eq!(rsp + img.len() as u64, stack_top);
    let word = |va: u64| -> u64 {
        assert!(
            va >= rsp && va + 8 <= stack_top,
            "word {va:#x} outside the image"
        );
        let i = (va - rsp) as usize;
        u64::from_le_bytes(img[i..i + 8].try_into().unwrap())
    };
    let cstr = |va: u64| -> Vec<u8> {
        assert!(
            va >= rsp && va < stack_top,
            "string {va:#x} outside the image"
        );
        let i = (va - rsp) as usize;
        let n = img[i..]
            .iter()
            .position(|&b| b == 0)
            .expect("NUL-terminated");
        img[i..i + n].to_vec()
    };
    let mut p = rsp;
    let argc = word(p);
    p += 8;
    let mut argv = vec![];
    for _ in 0..argc {
        argv.push(cstr(word(p)));
        p += 8;
    }
    assert_eq!(word(p), 0, "argv NULL");
    p += 8;
    let mut envp = vec![];
    while word(p) != 0 {
        envp.push(cstr(word(p)));
        p += 8;
    }
    p += 8;
    let mut auxv = vec![];
    loop {
        let (t, v) = (word(p), word(p + 8));
        p += 16;
        auxv.push((t, v));
        if t == AT_NULL {
            break;
        }
    }
    Decoded { argv, envp, auxv }
}

fn aux_get(d: &Decoded, t: u64) -> Option<u64> {
    d.auxv.iter().find(|a| a.0 == t).map(|a| a.1)
}

fn sample_aux() -> Aux<'static> {
    Aux {
        phdr: 0x400040,
        phent: 56,
        phnum: 9,
        pagesz: 4096,
        base: 0,
        flags: 0,
        entry: 0x401020,
        uid: 1000,
        euid: 1001,
        gid: 100,
        egid: 101,
        secure: 0,
        hwcap: 0x178b_fbff,
        hwcap2: 2,
        clktck: 100,
        platform: Some(b"x86_64"),
        minsigstksz: Some(2048),
        sysinfo_ehdr: None,
    }
}

#[test]
fn layout_and_values() {
    let top = 0x7fff_ffff_f000u64;
    let argv: [&[u8]; 3] = [b"/bin/busybox", b"sh", b"-c"];
    let envp: [&[u8]; 2] = [b"PATH=/bin", b"HOME=/"];
    let random = *b"0123456789abcdef";
    let (img, rsp) = build_stack(top, &argv, &envp, &sample_aux(), random, b"/bin/sh").unwrap();
    assert_eq!(rsp % 16, 0, "rsp 16-byte aligned at entry");
    assert_eq!(rsp + img.len() as u64, top);
    let d = decode(&img, rsp, top);
    assert_eq!(d.argv, argv.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
    assert_eq!(d.envp, envp.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
    let a = |t| aux_get(&d, t).unwrap_or_else(|| panic!("AT {t} missing"));
    assert_eq!(a(AT_PHDR), 0x400040);
    assert_eq!(a(AT_PHENT), 56);
    assert_eq!(a(AT_PHNUM), 9);
    assert_eq!(a(AT_PAGESZ), 4096);
    assert_eq!(a(AT_BASE), 0);
    assert_eq!(a(AT_FLAGS), 0);
    assert_eq!(a(AT_ENTRY), 0x401020);
    assert_eq!(
        (a(AT_UID), a(AT_EUID), a(AT_GID), a(AT_EGID)),
        (1000, 1001, 100, 101)
    );
    assert_eq!(a(AT_SECURE), 0);
    assert_eq!(a(AT_HWCAP), 0x178b_fbff);
    assert_eq!(a(AT_HWCAP2), 2);
    assert_eq!(a(AT_CLKTCK), 100);
    assert_eq!(a(AT_MINSIGSTKSZ), 2048);
    assert_eq!(aux_get(&d, AT_SYSINFO_EHDR), None);
    // AT_RANDOM: 16 bytes inside the image.
    let r = a(AT_RANDOM);
    let i = (r - rsp) as usize;
    assert_eq!(&img[i..i + 16], &random);
    // AT_EXECFN and AT_PLATFORM strings.
    let s = |va: u64| {
        let i = (va - rsp) as usize;
        let n = img[i..].iter().position(|&b| b == 0).unwrap();
        img[i..i + n].to_vec()
    };
    assert_eq!(s(a(AT_EXECFN)), b"/bin/sh");
    assert_eq!(s(a(AT_PLATFORM)), b"x86_64");
    // AT_NULL last, each type once.
    assert_eq!(d.auxv.last(), Some(&(AT_NULL, 0)));
    let mut types: Vec<u64> = d.auxv.iter().map(|a| a.0).collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), d.auxv.len());
    // The strings lie above the vector and the random bytes.
    let vector_end = rsp + 8 * (1 + 4 + 3) + 16 * d.auxv.len() as u64;
    assert!(r >= vector_end);
    assert!(a(AT_EXECFN) > r);
    // Top 8 bytes are zero.
    assert_eq!(&img[img.len() - 8..], &[0; 8]);
}

#[test]
fn no_platform_no_args() {
    let top = 0x7000_0000_0000u64;
    let mut aux = sample_aux();
    aux.platform = None;
    aux.minsigstksz = None;
    aux.sysinfo_ehdr = Some(0x7fff_0000_0000);
    let (img, rsp) = build_stack(top, &[], &[], &aux, [0; 16], b"").unwrap();
    assert_eq!(rsp % 16, 0);
    let d = decode(&img, rsp, top);
    assert!(d.argv.is_empty() && d.envp.is_empty());
    assert_eq!(aux_get(&d, AT_PLATFORM), None);
    assert_eq!(aux_get(&d, AT_SYSINFO_EHDR), Some(0x7fff_0000_0000));
    assert_eq!(d.auxv[0].0, AT_SYSINFO_EHDR);
}

#[test]
fn aux_new_from_plan() {
    let elf = Elf {
        kind: Kind::Exec,
        entry: 0x401000,
        phoff: 64,
        phentsize: 56,
        phnum: 3,
        segments: vec![Segment {
            vaddr: 0x400000,
            memsz: 0x2000,
            filesz: 0x2000,
            offset: 0,
            flags: PF_R | PF_X,
            align: 4096,
        }],
        tls: None,
        phdr: None,
        stack_exec: false,
    };
    let p = plan(&elf, 0).unwrap();
    let aux = Aux::new(&elf, &p);
    assert_eq!(
        (aux.phdr, aux.phent, aux.phnum, aux.entry, aux.pagesz, aux.clktck),
        (0x400040, 56, 3, 0x401000, 4096, 100)
    );
    assert_eq!(aux.platform, Some(&b"x86_64"[..]));
}

#[test]
fn errors() {
    let aux = sample_aux();
    let top = 0x7fff_ffff_f000u64;
    assert_eq!(
        build_stack(top + 8, &[b"a"], &[], &aux, [0; 16], b"a"),
        Err(Error::BadStackTop)
    );
    assert_eq!(
        build_stack(0x1000, &[b"a"], &[], &aux, [0; 16], b"a"),
        Err(Error::BadStackTop)
    );
    assert_eq!(
        build_stack(top, &[b"a\0b"], &[], &aux, [0; 16], b"a"),
        Err(Error::BadArg)
    );
    assert_eq!(
        build_stack(top, &[b"a"], &[b"X=\0"], &aux, [0; 16], b"a"),
        Err(Error::BadArg)
    );
    assert_eq!(
        build_stack(top, &[b"a"], &[], &aux, [0; 16], b"a\0"),
        Err(Error::BadArg)
    );
    let big = vec![b'x'; MAX_ARG_BYTES];
    assert_eq!(
        build_stack(top, &[&big], &[], &aux, [0; 16], b"a"),
        Err(Error::TooBig)
    );
    assert_eq!(Error::TooBig.errno(), abi::Errno::E2BIG);
    let many: Vec<&[u8]> = vec![b"x"; MAX_ARG_BYTES / 9];
    assert_eq!(
        build_stack(top, &many, &[], &aux, [0; 16], b"a"),
        Err(Error::TooBig)
    );
    // Just under the limit works.
    let ok = vec![b'x'; MAX_ARG_BYTES / 2];
    let (img, rsp) = build_stack(top, &[&ok], &[], &aux, [0; 16], b"a").unwrap();
    assert_eq!(decode(&img, rsp, top).argv[0].len(), MAX_ARG_BYTES / 2);
}

proptest! {
    #[test]
    fn any_args_decode_back(
        argv in proptest::collection::vec(proptest::collection::vec(1u8..=255, 0..40), 0..12),
        envp in proptest::collection::vec(proptest::collection::vec(1u8..=255, 0..40), 0..12),
        execfn in proptest::collection::vec(1u8..=255, 0..30),
        top_pages in 0x100u64..0x7_ffff_ffffu64,
        align in 0u64..256,
        platform in any::<bool>(),
    ) {
        let top = top_pages * 4096 + align * 16;
        let mut aux = sample_aux();
        if !platform {
            aux.platform = None;
        }
        let a: Vec<&[u8]> = argv.iter().map(|v| &v[..]).collect();
        let e: Vec<&[u8]> = envp.iter().map(|v| &v[..]).collect();
        let (img, rsp) = build_stack(top, &a, &e, &aux, [7; 16], &execfn).unwrap();
        prop_assert_eq!(rsp % 16, 0);
        let d = decode(&img, rsp, top);
        prop_assert_eq!(d.argv, argv);
        prop_assert_eq!(d.envp, envp);
        let ex = aux_get(&Decoded { argv: vec![], envp: vec![], auxv: d.auxv.clone() }, AT_EXECFN).unwrap();
        let i = (ex - rsp) as usize;
        prop_assert_eq!(&img[i..i + execfn.len()], &execfn[..]);
        prop_assert_eq!(img[i + execfn.len()], 0);
    }
}

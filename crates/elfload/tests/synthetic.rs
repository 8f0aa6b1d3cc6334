//! Hand-made ELF files: layouts compilers rarely produce and every error.

mod common;

use common::*;
use elfload::*;

const RX: u32 = PF_R | PF_X;
const RW: u32 = PF_R | PF_W;

#[test]
fn shared_page_between_text_and_data() {
    // text: file [0, 0x1234) at 0x400000; data: file [0x1234, 0x1500) at
    // 0x401234 (same page 0x401000 as the end of text), bss to 0x403000.
    let b = ElfBuilder::new(ET_EXEC, 0x400100)
        .ph(PT_LOAD, RX, 0, 0x400000, 0x1234, 0x1234)
        .ph(PT_LOAD, RW, 0x1234, 0x401234, 0x2cc, 0x1dcc)
        .build();
    let elf = parse(&b).unwrap();
    let p = plan(&elf, 0).unwrap();
    check_plan(&b, &elf, &p);
    assert_eq!(p.regions.len(), 2);
    assert_eq!((p.regions[0].start, p.regions[0].end), (0x400000, 0x402000));
    assert_eq!((p.regions[1].start, p.regions[1].end), (0x401000, 0x403000));
    assert_eq!(
        p.pages().collect::<Vec<_>>(),
        [0x400000, 0x401000, 0x402000]
    );
    let mut page = [0u8; 4096];
    // The shared page: union of rights; text bytes then data bytes then zero.
    assert_eq!(
        page_contents(&b, &p, 0x401000, &mut page),
        Ok(PROT_READ | PROT_WRITE | PROT_EXEC)
    );
    assert_eq!(&page[..0x500], &b[0x1000..0x1500]);
    assert!(page[0x500..].iter().all(|&x| x == 0));
    // bss page.
    assert_eq!(
        page_contents(&b, &p, 0x402000, &mut page),
        Ok(PROT_READ | PROT_WRITE)
    );
    assert!(page.iter().all(|&x| x == 0));
    assert_eq!(
        page_contents(&b, &p, 0x403000, &mut page),
        Err(Error::NotMapped)
    );
    assert_eq!(p.brk_start, 0x403000);
    // AT_PHDR from the first PT_LOAD (offset 0 holds the headers).
    assert_eq!(p.phdr_vaddr, 0x400040);
}

#[test]
fn shared_page_with_noncontiguous_file() {
    // Data's file bytes are far from text's, yet its va shares text's last page.
    let b = ElfBuilder::new(ET_EXEC, 0x400000)
        .ph(PT_LOAD, RX, 0, 0x400000, 0x800, 0x800)
        .ph(PT_LOAD, RW, 0x2900, 0x400900, 0x100, 0x200)
        .build();
    let elf = parse(&b).unwrap();
    let p = plan(&elf, 0).unwrap();
    check_plan(&b, &elf, &p);
    assert_eq!(p.pages().count(), 1);
    let mut page = [0u8; 4096];
    page_contents(&b, &p, 0x400000, &mut page).unwrap();
    assert_eq!(&page[..0x800], &b[..0x800]);
    assert!(page[0x800..0x900].iter().all(|&x| x == 0));
    assert_eq!(&page[0x900..0xa00], &b[0x2900..0x2a00]);
    assert!(page[0xa00..].iter().all(|&x| x == 0));
}

#[test]
fn partial_last_file_page_is_zeroed() {
    let b = ElfBuilder::new(ET_EXEC, 0x400000)
        .ph(PT_LOAD, RX, 0, 0x400000, 0x1800, 0x1800)
        .build();
    let elf = parse(&b).unwrap();
    let p = plan(&elf, 0).unwrap();
    let mut page = [0xffu8; 4096];
    page_contents(&b, &p, 0x401000, &mut page).unwrap();
    assert_eq!(&page[..0x800], &b[0x1000..0x1800]);
    assert!(
        page[0x800..].iter().all(|&x| x == 0),
        "bytes after filesz are zero, not file bytes"
    );
}

#[test]
fn pt_phdr_and_gnu_stack() {
    let b = ElfBuilder::new(ET_DYN, 0x1000)
        .ph(PT_PHDR, PF_R, 64, 0x40, 112, 112)
        .ph(PT_LOAD, RX, 0, 0, 0x2000, 0x2000)
        .ph(PT_GNU_STACK, RW | PF_X, 0, 0, 0, 0)
        .ph(PT_TLS, PF_R, 0x100, 0x100, 0x10, 0x40)
        .build();
    let elf = parse(&b).unwrap();
    assert_eq!(elf.kind, Kind::Dyn);
    assert_eq!(elf.phdr, Some(0x40));
    assert!(elf.stack_exec);
    assert_eq!(
        elf.tls,
        Some(Tls {
            vaddr: 0x100,
            filesz: 0x10,
            memsz: 0x40,
            offset: 0x100,
            align: 0x1000
        })
    );
    assert_eq!(
        plan(&elf, 0),
        Err(Error::AddressRange),
        "page 0 is below MIN_VADDR"
    );
    let p = plan(&elf, 0x10_0000).unwrap();
    assert_eq!(p.phdr_vaddr, 0x10_0040);
    assert_eq!(p.entry, 0x10_1000);
    check_plan(&b, &elf, &p);
    let aux = Aux::new(&elf, &p);
    assert_eq!(
        (aux.phdr, aux.phent, aux.phnum, aux.entry),
        (0x10_0040, 56, 4, 0x10_1000)
    );
}

#[test]
fn empty_load_segments_are_skipped() {
    let b = ElfBuilder::new(ET_EXEC, 0x400000)
        .ph(PT_LOAD, RX, 0, 0x400000, 0x100, 0x100)
        .ph(PT_LOAD, RW, 0, 0x300000, 0, 0)
        .build();
    let elf = parse(&b).unwrap();
    assert_eq!(elf.segments.len(), 1);
}

#[test]
fn errors() {
    let ok = ElfBuilder::new(ET_EXEC, 0x400000).ph(PT_LOAD, RX, 0, 0x400000, 0x1000, 0x1000);
    let good = ok.build();
    assert!(parse(&good).is_ok());

    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        parse(&b)
    };
    assert_eq!(parse(b""), Err(Error::Truncated));
    assert_eq!(parse(b"\x7fEL"), Err(Error::Truncated));
    assert_eq!(parse(&good[..63]), Err(Error::Truncated));
    assert_eq!(parse(b"#!/bin/sh\n"), Err(Error::BadMagic));
    assert_eq!(with(&|b| b[4] = 1), Err(Error::BadClass));
    assert_eq!(with(&|b| b[5] = 2), Err(Error::BadEndian));
    assert_eq!(with(&|b| b[16] = 1), Err(Error::BadType));
    assert_eq!(with(&|b| b[16] = 4), Err(Error::BadType));
    assert_eq!(with(&|b| b[18] = 3), Err(Error::BadMachine));
    assert_eq!(with(&|b| b[54] = 32), Err(Error::BadPhdr));
    assert_eq!(with(&|b| b[56] = 0), Err(Error::BadPhdr));
    assert_eq!(
        with(&|b| b[56..58].copy_from_slice(&[0xff, 0xff])),
        Err(Error::BadPhdr)
    );
    assert_eq!(with(&|b| b[56] = 250), Err(Error::Truncated));
    assert_eq!(
        with(&|b| b[32..40].copy_from_slice(&u64::MAX.to_le_bytes())),
        Err(Error::BadPhdr)
    );
    assert_eq!(
        with(&|b| b[32..40].copy_from_slice(&0x10_0000u64.to_le_bytes())),
        Err(Error::Truncated)
    );
    assert_eq!(
        with(&|b| b[24..32].copy_from_slice(&0x500000u64.to_le_bytes())),
        Err(Error::BadEntry)
    );

    let seg = |f: &dyn Fn(ElfBuilder) -> ElfBuilder| {
        parse(&f(ElfBuilder::new(ET_EXEC, 0x400000)).build())
    };
    // filesz > memsz
    assert_eq!(
        seg(&|e| e.ph(PT_LOAD, RX, 0, 0x400000, 0x1001, 0x1000)),
        Err(Error::BadSegment)
    );
    // file range beyond the file
    assert_eq!(
        seg(&|e| e.ph(PT_LOAD, RX, 0, 0x400000, 0x3001, 0x4000)),
        Err(Error::BadSegment)
    );
    assert_eq!(
        seg(&|e| e.ph(PT_LOAD, RX, u64::MAX, 0x400fff, 1, 1)),
        Err(Error::BadSegment)
    );
    // misaligned
    assert_eq!(
        seg(&|e| e.ph(PT_LOAD, RX, 0x10, 0x400000, 0x100, 0x100)),
        Err(Error::BadSegment)
    );
    // kernel half / overflow
    assert_eq!(
        seg(&|e| e.ph(PT_LOAD, RX, 0, 0x400000, 0x100, 0x100).ph(
            PT_LOAD,
            RW,
            0,
            0xffff_8000_0000_0000,
            0x10,
            0x10
        )),
        Err(Error::AddressRange)
    );
    assert_eq!(
        seg(&|e| e.ph(PT_LOAD, RX, 0, 0x400000, 0x100, u64::MAX)),
        Err(Error::AddressRange)
    );
    assert_eq!(
        seg(&|e| e.ph(PT_LOAD, RX, 0, USER_END - 0x1000, 0x100, 0x1001)),
        Err(Error::AddressRange)
    );
    // order and overlap
    assert_eq!(
        seg(&|e| e
            .ph(PT_LOAD, RX, 0, 0x400000, 0x100, 0x2000)
            .ph(PT_LOAD, RW, 0x1000, 0x401000, 0x10, 0x10)),
        Err(Error::Overlap)
    );
    assert_eq!(
        seg(&|e| e
            .ph(PT_LOAD, RX, 0x1000, 0x401000, 0x10, 0x10)
            .ph(PT_LOAD, RW, 0, 0x400000, 0x100, 0x100)),
        Err(Error::Overlap)
    );
    // no PT_LOAD
    assert_eq!(
        seg(&|e| e.ph(PT_GNU_STACK, RW, 0, 0, 0, 0)),
        Err(Error::NoLoad)
    );
    // dynamic
    assert_eq!(
        seg(&|e| e
            .ph(PT_LOAD, RX, 0, 0x400000, 0x100, 0x100)
            .ph(PT_INTERP, PF_R, 0x200, 0, 0x1c, 0x1c)),
        Err(Error::Dynamic)
    );
    // bad TLS
    assert_eq!(
        seg(&|e| e
            .ph(PT_LOAD, RX, 0, 0x400000, 0x100, 0x100)
            .ph(PT_TLS, PF_R, 0x100, 0x400100, 0x20, 0x10)),
        Err(Error::BadSegment)
    );
    // A segment below MIN_VADDR parses (ET_EXEC) but cannot be planned.
    let low = parse(
        &ElfBuilder::new(ET_EXEC, 0x1000)
            .ph(PT_LOAD, RX, 0, 0x1000, 0x100, 0x100)
            .build(),
    )
    .unwrap();
    assert_eq!(plan(&low, 0), Err(Error::AddressRange));

    // page_contents with the wrong (shorter) file gives an error, not a panic.
    let elf = parse(&good).unwrap();
    let p = plan(&elf, 0).unwrap();
    let mut page = [0u8; 4096];
    assert_eq!(
        page_contents(&good[..100], &p, 0x400000, &mut page),
        Err(Error::Truncated)
    );

    // errno mapping
    assert_eq!(abi::Errno::from(Error::TooBig), abi::Errno::E2BIG);
    assert_eq!(Error::BadMagic.errno(), abi::Errno::ENOEXEC);
}

//! Random and mutated inputs never panic; whatever parses plans consistently.

mod common;

use common::*;
use elfload::*;
use proptest::prelude::*;

/// Parses, plans at a few biases and fills every page (bounded) — must never panic.
fn exercise(bytes: &[u8]) {
    let Ok(elf) = parse(bytes) else { return };
    for bias in [0u64, 0x5555_5555_4000, 0x1000, !0xfffu64] {
        let Ok(p) = plan(&elf, bias) else { continue };
        let mut page = [0u8; 4096];
        for va in p.pages().take(64) {
            let _ = page_contents(bytes, &p, va, &mut page);
        }
        let _ = page_contents(bytes, &p, p.phdr_vaddr & !0xfff, &mut page);
        let aux = Aux::new(&elf, &p);
        let _ = build_stack(0x7fff_ffff_f000, &[b"x"], &[], &aux, [0; 16], b"x");
    }
}

fn small_static() -> Vec<u8> {
    ElfBuilder::new(ET_EXEC, 0x400100)
        .ph(PT_PHDR, PF_R, 64, 0x400040, 4 * 56, 4 * 56)
        .ph(PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x1234, 0x1234)
        .ph(PT_LOAD, PF_R | PF_W, 0x1234, 0x401234, 0x2cc, 0x1dcc)
        .ph(PT_TLS, PF_R, 0x1300, 0x401300, 0x10, 0x20)
        .build()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
        // With a valid-looking identification.
        let mut b = b"\x7fELF\x02\x01\x01\x00".to_vec();
        b.extend_from_slice(&bytes);
        exercise(&b);
    }

    #[test]
    fn mutated_headers(edits in proptest::collection::vec((0usize..64 + 4 * 56, any::<u8>()), 1..10),
                       cut in 0usize..0x3001) {
        let mut b = small_static();
        for (i, v) in edits {
            b[i] = v;
        }
        exercise(&b);
        exercise(&b[..cut.min(b.len())]);
    }

    #[test]
    fn mutated_fields(field in 0usize..7, ph in 0usize..4, v in prop_oneof![any::<u64>(), 0u64..0x10000, Just(u64::MAX), Just(1u64 << 47)]) {
        let mut b = small_static();
        let o = 64 + 56 * ph + 8 + 8 * field.min(5);
        b[o..o + 8].copy_from_slice(&v.to_le_bytes());
        exercise(&b);
    }
}

#[test]
fn mutated_real_binary() {
    let Some(bytes) = build_c("musl-gcc", &["-static"], "fuzz-musl") else {
        return;
    };
    let elf = parse(&bytes).unwrap();
    let table_end = (elf.phoff as usize) + 56 * elf.phnum as usize;
    // Deterministic pseudo-random single and double byte edits in the headers.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..1 + next() % 3 {
            let i = if next() % 2 == 0 {
                (next() % 64) as usize
            } else {
                elf.phoff as usize + (next() as usize % (table_end - elf.phoff as usize))
            };
            b[i] = next() as u8;
        }
        exercise(&b);
    }
}

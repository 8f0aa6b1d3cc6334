#![allow(dead_code)]

use elfload::*;
use std::path::PathBuf;
use std::process::Command;

/// A fresh temporary directory for this test process.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("elfload-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub const HELLO_C: &str = r#"
#include <stdio.h>
#include <string.h>
__thread int tls_counter = 42;
static char big_bss[100000];
int data_var = 7;
int main(int argc, char **argv) {
    big_bss[argc] = 1;
    tls_counter += argc;
    printf("hello %d %d %s\n", tls_counter, data_var, argv[0]);
    return (int)strlen(big_bss);
}
"#;

/// Compiles HELLO_C with `cc` and `flags`; `None` (with a message) if the
/// compiler is missing or fails.
pub fn build_c(cc: &str, flags: &[&str], tag: &str) -> Option<Vec<u8>> {
    build_c_full(cc, flags, &[], tag)
}

/// Like [`build_c`], with `post` arguments after the source file.
pub fn build_c_full(cc: &str, flags: &[&str], post: &[&str], tag: &str) -> Option<Vec<u8>> {
    if Command::new(cc).arg("--version").output().is_err() {
        eprintln!("SKIP: {cc} not installed (apt-get install musl-tools)");
        return None;
    }
    let d = tempdir(tag);
    let src = d.join("hello.c");
    let exe = d.join("hello");
    std::fs::write(&src, HELLO_C).unwrap();
    let out = Command::new(cc)
        .args(flags)
        .arg("-O1")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .args(post)
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "SKIP: {cc} {flags:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let bytes = std::fs::read(&exe).unwrap();
    let _ = std::fs::remove_dir_all(&d);
    Some(bytes)
}

/// A musl static-PIE. Debian's `musl-gcc -static-pie` links `Scrt1.o` and
/// keeps `PT_INTERP` (its specs file ignores `-static-pie`), so link by hand
/// with `rcrt1.o` and `--no-dynamic-linker`.
pub fn build_musl_static_pie(tag: &str) -> Option<Vec<u8>> {
    let m = "/usr/lib/x86_64-linux-musl";
    let file = |name: &str| -> String {
        let out = Command::new("gcc")
            .arg(format!("-print-file-name={name}"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    if !std::path::Path::new(&format!("{m}/rcrt1.o")).exists() {
        eprintln!("SKIP: {m}/rcrt1.o missing (apt-get install musl-tools)");
        return None;
    }
    let (rcrt1, crti, crtn) = (
        format!("{m}/rcrt1.o"),
        format!("{m}/crti.o"),
        format!("{m}/crtn.o"),
    );
    let (begin, end) = (file("crtbeginS.o"), file("crtendS.o"));
    build_c_full(
        "musl-gcc",
        &[
            "-fPIE",
            "-nostartfiles",
            "-Wl,-static,-pie,--no-dynamic-linker,-z,text",
            &rcrt1,
            &crti,
            &begin,
        ],
        &[&end, &crtn],
        tag,
    )
}

/// Reference: the content and protection of a page computed byte by byte
/// from the segments.
pub fn reference_page(bytes: &[u8], elf: &Elf, bias: u64, page: u64) -> (Vec<u8>, Option<u32>) {
    let mut out = vec![0u8; 4096];
    let mut prot = None;
    for s in &elf.segments {
        let start = (s.vaddr + bias) & !4095;
        let end = (s.vaddr + bias + s.memsz + 4095) & !4095;
        if start <= page && page < end {
            prot = Some(prot.unwrap_or(0) | s.prot());
        }
        for (i, b) in out.iter_mut().enumerate() {
            let va = page + i as u64;
            if s.vaddr + bias <= va && va < s.vaddr + bias + s.filesz {
                *b = bytes[(s.offset + va - s.vaddr - bias) as usize];
            }
        }
    }
    (out, prot)
}

/// Checks every invariant of a plan against the file.
pub fn check_plan(bytes: &[u8], elf: &Elf, plan: &LoadPlan) {
    let bias = plan.load_bias;
    assert!(!plan.regions.is_empty());
    for r in &plan.regions {
        assert_eq!(r.start % 4096, 0);
        assert_eq!(r.end % 4096, 0);
        assert_eq!(r.file_offset % 4096, 0);
        assert!(r.start < r.end);
        assert!(r.start <= r.file_start && r.file_start <= r.file_end && r.file_end <= r.end);
        assert!(r.start >= MIN_VADDR && r.end <= USER_END);
        assert_eq!(r.file_start - r.start, r.file_start % 4096);
        assert!(r.file_offset + (r.file_end - r.start) <= bytes.len() as u64);
    }
    for w in plan.regions.windows(2) {
        assert!(
            w[0].start <= w[1].start && w[0].file_end <= w[1].file_start,
            "sorted"
        );
        assert!(w[1].start + 4096 >= w[0].end, "overlap of at most one page");
        assert!(w[1].file_start >= w[0].end - 4096);
    }
    // Entry inside an executable region.
    let er = plan
        .regions
        .iter()
        .find(|r| r.file_start <= plan.entry && plan.entry < r.end)
        .expect("entry mapped");
    assert_ne!(er.prot & PROT_EXEC, 0, "entry is executable");
    assert_eq!(plan.entry, elf.entry + bias);
    // brk
    assert!(plan.regions.iter().all(|r| r.end <= plan.brk_start));
    assert_eq!(plan.brk_start % 4096, 0);
    // Pages: unique, ascending, every region page covered.
    let pages: Vec<u64> = plan.pages().collect();
    assert!(pages.windows(2).all(|w| w[0] < w[1]));
    for r in &plan.regions {
        for p in (r.start..r.end).step_by(4096) {
            assert!(pages.binary_search(&p).is_ok());
        }
    }
    assert_eq!(plan.page_count(), pages.len() as u64);
    // Every page's contents match the byte-by-byte reference.
    let mut buf = [0u8; 4096];
    for &p in &pages {
        let prot = page_contents(bytes, plan, p, &mut buf).unwrap();
        let (want, want_prot) = reference_page(bytes, elf, bias, p);
        assert_eq!(Some(prot), want_prot, "prot of page {p:#x}");
        assert_eq!(plan.prot_of(p), want_prot);
        assert!(buf[..] == want[..], "contents of page {p:#x}");
    }
    // Outside the image.
    assert_eq!(
        page_contents(bytes, plan, plan.image_start() - 4096, &mut buf),
        Err(Error::NotMapped)
    );
    assert_eq!(
        page_contents(bytes, plan, plan.image_end(), &mut buf),
        Err(Error::NotMapped)
    );
    assert_eq!(
        page_contents(bytes, plan, plan.image_start() + 1, &mut buf),
        Err(Error::NotMapped)
    );
    // Program headers readable at AT_PHDR when the plan found them.
    if plan.phdr_vaddr != 0 {
        let len = elf.phnum as usize * elf.phentsize as usize;
        let table = &bytes[elf.phoff as usize..elf.phoff as usize + len];
        let mut got = Vec::new();
        let mut va = plan.phdr_vaddr;
        while got.len() < len {
            let page = va & !4095;
            page_contents(bytes, plan, page, &mut buf).unwrap();
            let off = (va - page) as usize;
            let n = (4096 - off).min(len - got.len());
            got.extend_from_slice(&buf[off..off + n]);
            va += n as u64;
        }
        assert_eq!(got, table, "program headers at AT_PHDR");
    }
}

/// `readelf -lW` LOAD lines: (offset, vaddr, filesz, memsz, flags).
pub type LoadLine = (u64, u64, u64, u64, u32);

pub fn readelf_loads(path: &std::path::Path) -> Option<Vec<LoadLine>> {
    let out = Command::new("readelf").arg("-lW").arg(path).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let mut v = vec![];
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.first() != Some(&"LOAD") {
            continue;
        }
        let flags_str: String = t[6..t.len() - 1].concat();
        let mut flags = 0;
        if flags_str.contains('R') {
            flags |= PF_R;
        }
        if flags_str.contains('W') {
            flags |= PF_W;
        }
        if flags_str.contains('E') {
            flags |= PF_X;
        }
        v.push((hex(t[1]), hex(t[2]), hex(t[4]), hex(t[5]), flags));
    }
    Some(v)
}

/// A minimal ELF64 x86-64 file: header + program headers + `extra` bytes.
pub struct ElfBuilder {
    pub e_type: u16,
    pub entry: u64,
    pub phdrs: Vec<[u64; 7]>, // type|flags<<32, offset, vaddr, paddr, filesz, memsz, align
    pub size: usize,
}

impl ElfBuilder {
    pub fn new(e_type: u16, entry: u64) -> Self {
        Self {
            e_type,
            entry,
            phdrs: vec![],
            size: 0x3000,
        }
    }
    pub fn ph(
        mut self,
        p_type: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
    ) -> Self {
        self.phdrs.push([
            u64::from(p_type) | (u64::from(flags) << 32),
            offset,
            vaddr,
            vaddr,
            filesz,
            memsz,
            0x1000,
        ]);
        self
    }
    pub fn build(&self) -> Vec<u8> {
        let mut b = vec![0u8; self.size.max(64 + 56 * self.phdrs.len())];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&self.e_type.to_le_bytes());
        b[18..20].copy_from_slice(&62u16.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[24..32].copy_from_slice(&self.entry.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[52..54].copy_from_slice(&64u16.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(self.phdrs.len() as u16).to_le_bytes());
        for (i, p) in self.phdrs.iter().enumerate() {
            let o = 64 + 56 * i;
            b[o..o + 4].copy_from_slice(&(p[0] as u32).to_le_bytes());
            b[o + 4..o + 8].copy_from_slice(&((p[0] >> 32) as u32).to_le_bytes());
            for (j, v) in p[1..].iter().enumerate() {
                b[o + 8 + 8 * j..o + 16 + 8 * j].copy_from_slice(&v.to_le_bytes());
            }
        }
        // Recognizable contents after the headers.
        for (i, x) in b.iter_mut().enumerate().skip(64 + 56 * self.phdrs.len()) {
            *x = (i % 251) as u8 | 1;
        }
        b
    }
}

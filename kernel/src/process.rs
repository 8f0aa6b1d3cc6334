//! Running processes: loading a static ELF executable into a replicated
//! address space, the user-mode loop (system calls, page faults, traps) and
//! process exit.
//!
//! This issue runs one single-threaded process at a time (the init program,
//! on the bootstrap core); the loop below is written per thread so that the
//! scheduler of the next issue can run one per core.

use crate::arch::paging::{self, frame, PAGE_SIZE};
use crate::arch::user::{self, Exit, UserContext};
use crate::{mem, rng, state, syscall};
use abi::errno::{Errno, KResult};
use alloc::boxed::Box;
use alloc::vec::Vec;
use kstate::{MapAt, Pid, Populated, ReadOp, Resp, VmaKind, WriteOp};

/// Top of the initial user stack.
pub const STACK_TOP: u64 = 0x0000_7fff_ffff_0000;
/// Size of the stack mapping (grows on demand inside it).
pub const STACK_SIZE: u64 = 8 << 20;
/// Load address of static-PIE (`ET_DYN`) executables.
pub const PIE_BASE: u64 = 0x0000_5555_5555_4000;

/// A thread: its process and saved user state.
pub struct Thread {
    /// Process (and thread) id.
    pub pid: Pid,
    /// Saved registers.
    pub ctx: Box<UserContext>,
    /// Page-table root loaded for it (0 = look it up).
    pub root: u64,
    /// Blocked signals (bit `n-1` for signal `n`).
    pub sigmask: u64,
    /// Installed signal actions (delivery of caught signals is the next
    /// issue; here they are recorded and reported back faithfully).
    pub sigactions: [abi::structs::KSigaction; 65],
    /// `set_tid_address` pointer.
    pub clear_child_tid: u64,
    /// `set_robust_list` head.
    pub robust_list: u64,
    /// Thread name (`PR_SET_NAME`), NUL-padded.
    pub name: [u8; 16],
}

impl Thread {
    /// A thread of process `pid` starting with `ctx`.
    pub fn new(pid: Pid, ctx: Box<UserContext>) -> Self {
        Thread {
            pid,
            ctx,
            root: 0,
            sigmask: 0,
            sigactions: [abi::structs::KSigaction::default(); 65],
            clear_child_tid: 0,
            robust_list: 0,
            name: [0; 16],
        }
    }
}

/// What the loop should do after a system call.
pub enum Next {
    /// Return to user mode.
    Resume,
    /// The process ended with this wait status (exit code or 128+signal for
    /// the shell-style status).
    Exited(i32),
}

fn frames_free(frames: Vec<u64>) {
    for f in frames {
        mem::free_frame(f);
    }
}

/// Free data frames released by an operation's response.
pub fn release(resp: KResult<Resp>) -> KResult<Resp> {
    match resp {
        Ok(Resp::Frames(f)) => {
            frames_free(f);
            Ok(Resp::Unit)
        }
        Ok(Resp::Mapped(addr, f)) => {
            frames_free(f);
            Ok(Resp::Val(addr))
        }
        other => other,
    }
}

/// Allocate a frame on this core's node (`ENOMEM` when memory is gone).
pub fn alloc_user_frame() -> KResult<u64> {
    mem::alloc_frame().ok_or(Errno::ENOMEM)
}

/// Back the page of `va` with a fresh frame, zeroed or filled from
/// `file = (ino, offset)`.
pub fn populate_page(pid: Pid, va: u64, file: Option<(u64, u64)>) -> KResult<()> {
    let page = va & !(PAGE_SIZE - 1);
    let f = alloc_user_frame()?;
    frame::zero(f);
    if let Some((ino, offset)) = file {
        if let Ok(Resp::Bytes(b)) = state::execute(ReadOp::ReadInode { ino, offset, len: PAGE_SIZE }) {
            frame::write(f, 0, &b);
        }
    }
    match state::execute_mut(WriteOp::Populate { pid, pages: alloc::vec![(page, f)] }) {
        Ok(Resp::Populated(r)) if r.first() == Some(&Ok(Populated::Installed)) => Ok(()),
        Ok(Resp::Populated(r)) if r.first() == Some(&Ok(Populated::AlreadyPresent)) => {
            mem::free_frame(f);
            Ok(())
        }
        Ok(Resp::Populated(r)) => {
            mem::free_frame(f);
            Err(r.first().and_then(|x| x.err()).unwrap_or(Errno::EFAULT))
        }
        Ok(_) => {
            mem::free_frame(f);
            Err(Errno::EFAULT)
        }
        Err(e) => {
            mem::free_frame(f);
            Err(e)
        }
    }
}

/// Create a process (empty address space); returns its pid.
pub fn spawn(parent: Pid, exe: &[u8]) -> KResult<Pid> {
    match state::execute_mut(WriteOp::Spawn { parent, exe: exe.to_vec() })? {
        Resp::Pid(p) => Ok(p),
        _ => Err(Errno::EINVAL),
    }
}

/// Read a whole regular file (following symlinks) for execution.
fn read_executable(pid: Pid, path: &[u8]) -> KResult<Vec<u8>> {
    let st = match state::execute(ReadOp::Stat { pid, dirfd: abi::flags::AT_FDCWD, path: path.to_vec(), follow: true })? {
        Resp::Stat(s) => s,
        _ => return Err(Errno::EINVAL),
    };
    if st.mode & abi::flags::S_IFMT == abi::flags::S_IFDIR {
        return Err(Errno::EACCES);
    }
    if st.mode & abi::flags::S_IFMT != abi::flags::S_IFREG || st.mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    match state::execute(ReadOp::ReadInode { ino: st.ino, offset: 0, len: st.size })? {
        Resp::Bytes(b) => Ok(b),
        _ => Err(Errno::EIO),
    }
}

/// Absolute form of `path` relative to the process's working directory.
fn absolute(pid: Pid, path: &[u8]) -> Vec<u8> {
    if path.first() == Some(&b'/') {
        return path.to_vec();
    }
    let mut cwd = match state::execute(ReadOp::Getcwd { pid }) {
        Ok(Resp::Bytes(b)) => b,
        _ => b"/".to_vec(),
    };
    if cwd.last() != Some(&b'/') {
        cwd.push(b'/');
    }
    cwd.extend_from_slice(path);
    cwd
}

/// Why `exec` failed.
#[derive(Debug)]
pub struct ExecError {
    /// The error number.
    pub errno: Errno,
    /// The old image was already gone: the process cannot continue.
    pub fatal: bool,
}

impl From<Errno> for ExecError {
    fn from(errno: Errno) -> Self {
        ExecError { errno, fatal: true }
    }
}

/// Replace the image of `pid` with the executable at `path`; returns the
/// initial user context.
pub fn exec(pid: Pid, path: &[u8], argv: &[Vec<u8>], envp: &[Vec<u8>]) -> Result<Box<UserContext>, ExecError> {
    let early = |errno| ExecError { errno, fatal: false };
    let bytes = read_executable(pid, path).map_err(early)?;
    let elf = elfload::parse(&bytes).map_err(|e| {
        log::debug!("exec {}: {e:?}", core::str::from_utf8(path).unwrap_or("?"));
        early(Errno::ENOEXEC)
    })?;
    let bias = if elf.kind == elfload::Kind::Dyn { PIE_BASE } else { 0 };
    let plan = elfload::plan(&elf, bias).map_err(|_| early(Errno::ENOEXEC))?;
    let exe = absolute(pid, path);
    let argv_refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let envp_refs: Vec<&[u8]> = envp.iter().map(|a| a.as_slice()).collect();
    // Check that the arguments fit before destroying anything.
    let aux = elfload::Aux { hwcap: u64::from(crate::arch::cpu::cpuid(1, 0).edx), ..elfload::Aux::new(&elf, &plan) };
    elfload::build_stack(STACK_TOP, &argv_refs, &envp_refs, &aux, [0; 16], &exe).map_err(|e| early(e.errno()))?;

    // Point of no return: drop the old image (leave its page tables first:
    // every replica frees them).
    paging::load_root(0);
    release(state::execute_mut(WriteOp::ResetVm { pid, exe: exe.clone() }))?;

    // Map the image in runs of pages with equal protection (segments may
    // share a page; it gets the union of their rights).
    let pages: Vec<(u64, u32)> = plan.pages().map(|va| (va, plan.prot_of(va).unwrap_or(0))).collect();
    let mut i = 0;
    while i < pages.len() {
        let (start, prot) = pages[i];
        let mut j = i + 1;
        while j < pages.len() && pages[j].1 == prot && pages[j].0 == pages[j - 1].0 + PAGE_SIZE {
            j += 1;
        }
        let len = (j - i) as u64 * PAGE_SIZE;
        release(state::execute_mut(WriteOp::Mmap { pid, at: MapAt::Fixed(start), len, prot, kind: VmaKind::Anon }))?;
        i = j;
    }
    // Fill every page that holds file bytes now; the rest (bss) is
    // zero-filled on first touch.
    let mut batch = Vec::new();
    let mut page = [0u8; PAGE_SIZE as usize];
    for &(va, _) in &pages {
        let has_file = plan.regions.iter().any(|r| va < r.file_end && va + PAGE_SIZE > r.file_start);
        if !has_file {
            continue;
        }
        elfload::page_contents(&bytes, &plan, va, &mut page).map_err(|_| Errno::ENOEXEC)?;
        let f = alloc_user_frame()?;
        frame::write(f, 0, &page);
        batch.push((va, f));
        if batch.len() == 64 {
            install(pid, core::mem::take(&mut batch))?;
        }
    }
    install(pid, batch)?;
    state::execute_mut(WriteOp::SetBrkStart { pid, addr: plan.brk_start })?;

    // The stack: an 8 MiB mapping below STACK_TOP, the initial frame filled
    // in now.
    release(state::execute_mut(WriteOp::Mmap {
        pid,
        at: MapAt::Fixed(STACK_TOP - STACK_SIZE),
        len: STACK_SIZE,
        prot: abi::flags::PROT_READ | abi::flags::PROT_WRITE,
        kind: VmaKind::Stack,
    }))?;
    let mut random = [0u8; 16];
    rng::fill(&mut random);
    let (image, rsp) =
        elfload::build_stack(STACK_TOP, &argv_refs, &envp_refs, &aux, random, &exe).map_err(|_| Errno::E2BIG)?;
    crate::uaccess::write(pid, STACK_TOP - image.len() as u64, &image)?;
    Ok(Box::new(UserContext::new(plan.entry, rsp)))
}

fn install(pid: Pid, pages: Vec<(u64, u64)>) -> KResult<()> {
    if pages.is_empty() {
        return Ok(());
    }
    let frames: Vec<u64> = pages.iter().map(|p| p.1).collect();
    match state::execute_mut(WriteOp::Populate { pid, pages }) {
        Ok(Resp::Populated(rs)) => {
            let mut err = None;
            for (r, f) in rs.into_iter().zip(frames) {
                match r {
                    Ok(Populated::Installed) => {}
                    Ok(Populated::AlreadyPresent) => mem::free_frame(f),
                    Err(e) => {
                        mem::free_frame(f);
                        err = Some(e);
                    }
                }
            }
            err.map_or(Ok(()), Err)
        }
        other => {
            frames.into_iter().for_each(mem::free_frame);
            other.map(|_| ())
        }
    }
}

/// The signal a CPU exception in user mode raises.
fn signal_of(vector: u8) -> i32 {
    match vector {
        0 | 16 | 19 => abi::flags::SIGFPE as i32,
        1 | 3 => abi::flags::SIGTRAP as i32,
        6 => abi::flags::SIGILL as i32,
        12 | 17 => abi::flags::SIGBUS as i32,
        _ => abi::flags::SIGSEGV as i32,
    }
}

/// Resolve a user page fault; false if the access is not allowed.
fn handle_page_fault(pid: Pid, addr: u64, error_code: u64) -> bool {
    let access = kstate::Access { write: error_code & 2 != 0, exec: error_code & 16 != 0, user: true };
    match state::execute(ReadOp::Fault { pid, va: addr, access }) {
        Ok(Resp::Fault(kstate::FaultDecision::NeedsFrame { file, .. })) => populate_page(pid, addr, file).is_ok(),
        Ok(Resp::Fault(kstate::FaultDecision::Spurious)) => {
            crate::arch::cpu::invlpg(addr);
            true
        }
        _ => false,
    }
}

/// Load the page tables of `t` (this node's replica).
fn load(t: &mut Thread) -> bool {
    if t.root == 0 {
        match state::execute(ReadOp::Root { pid: t.pid }) {
            Ok(Resp::Val(r)) => t.root = r,
            _ => return false,
        }
    }
    paging::load_root(t.root);
    true
}

/// Run thread `t` until its process ends; returns the wait-style status
/// (exit code, or 128 + signal number when killed).
pub fn run(mut t: Thread) -> i32 {
    loop {
        if !load(&mut t) {
            return 128 + abi::flags::SIGKILL as i32;
        }
        let exit = user::enter(&mut t.ctx);
        let status = match exit {
            Exit::Syscall => match syscall::dispatch(&mut t) {
                Next::Resume => continue,
                Next::Exited(s) => s,
            },
            Exit::Interrupt(_) => continue,
            Exit::Exception { vector: 14, error_code, cr2 } => {
                if handle_page_fault(t.pid, cr2, error_code) {
                    continue;
                }
                log::info!("pid {}: segmentation fault at {:#x} (rip {:#x}, error {:#x})", t.pid, cr2, t.ctx.rip, error_code);
                128 + abi::flags::SIGSEGV as i32
            }
            Exit::Exception { vector, error_code, .. } => {
                let sig = signal_of(vector);
                log::info!("pid {}: CPU exception {} (error {:#x}) at rip {:#x}: signal {}", t.pid, vector, error_code, t.ctx.rip, sig);
                128 + sig
            }
        };
        exit_process(&t, status);
        return status;
    }
}

/// Tear down a process that ended with `status`.
pub fn exit_process(t: &Thread, status: i32) {
    // Leave its page tables before every replica frees them.
    paging::load_root(0);
    let _ = release(state::execute_mut(WriteOp::Exit { pid: t.pid, status }));
}

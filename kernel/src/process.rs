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
use core::sync::atomic::{AtomicU64, Ordering};
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
    pub sigactions: SigActions,
    /// `set_tid_address` pointer.
    pub clear_child_tid: u64,
    /// `set_robust_list` head.
    pub robust_list: u64,
    /// Thread name (`PR_SET_NAME`), NUL-padded.
    pub name: [u8; 16],
    /// Core whose run queue it belongs to.
    pub home: Option<usize>,
    /// Deadline of an interrupted `nanosleep` being restarted.
    pub sleep_deadline: Option<u64>,
    /// Set by a system call that must wait (see `syscall::BLOCK`).
    pub wait: Option<(crate::sched::WaitKey, u64)>,
    /// Deadline of a `poll` being restarted (`Some(None)`: no timeout).
    pub poll_deadline: Option<Option<u64>>,
    /// The alternate signal stack.
    pub altstack: crate::signal::AltStack,
    /// The system call this thread will re-execute when it runs (it
    /// blocked), if any.
    pub restarting: Option<u64>,
    /// `(number, address of its syscall instruction)` of the system call
    /// that blocked and will be re-executed: only that re-execution may use
    /// the per-call state above and below (deadlines, `woken_by`); any
    /// other system call starts with it cleared.
    pub resume_at: Option<(u64, u64)>,
    /// Mask to restore after a handler interrupted `rt_sigsuspend`.
    pub saved_mask: Option<u64>,
    /// Thread id (equal to `pid` for a process's first thread).
    pub tid: Pid,
    /// NUMA node whose replica `root` belongs to.
    pub root_node: usize,
    /// Signal hint and mask at the last look at pending signals (see
    /// `sched::signal_hint`); `None` forces a look.
    pub sig_checked: Option<(u32, u64)>,
    /// The parent pid from the last `getppid`, with the reparent epoch it
    /// was read under (see [`reparent_epoch`]).
    pub ppid_cache: Option<(u64, u32)>,
    /// The wait key whose wake-up made it runnable (futex wake-ups).
    pub woken_by: Option<crate::sched::WaitKey>,
    /// Deadline of a timed wait (futex timeout), monotonic ns.
    pub wait_deadline: Option<u64>,
    /// Cores it may run on (bit n: core n), a copy of the replicated
    /// placement's affinity.
    pub affinity: u64,
    /// Affinity hint at the last look at the replicated placement (see
    /// `sched::affinity_hint`).
    pub aff_seen: u32,
}

impl Thread {
    /// A thread of process `pid` starting with `ctx`.
    pub fn new(pid: Pid, ctx: Box<UserContext>) -> Self {
        Thread {
            pid,
            ctx,
            root: 0,
            sigmask: 0,
            sigactions: SigActions::default(),
            clear_child_tid: 0,
            robust_list: 0,
            name: [0; 16],
            home: None,
            sleep_deadline: None,
            wait: None,
            poll_deadline: None,
            altstack: crate::signal::AltStack {
                sp: 0,
                size: 0,
                disabled: true,
            },
            restarting: None,
            resume_at: None,
            saved_mask: None,
            tid: pid,
            root_node: usize::MAX,
            sig_checked: None,
            ppid_cache: None,
            woken_by: None,
            wait_deadline: None,
            affinity: crate::sched::all_cores(),
            aff_seen: 0,
        }
    }
}

/// Signal actions of a process, shared by its threads (`CLONE_SIGHAND`).
#[derive(Clone)]
pub struct SigActions(alloc::sync::Arc<spin::Mutex<[abi::structs::KSigaction; 65]>>);

impl Default for SigActions {
    fn default() -> Self {
        SigActions(alloc::sync::Arc::new(spin::Mutex::new(
            [abi::structs::KSigaction::default(); 65],
        )))
    }
}

impl SigActions {
    /// The action for `sig` (1..=64).
    pub fn get(&self, sig: i32) -> abi::structs::KSigaction {
        self.0.lock().get(sig as usize).copied().unwrap_or_default()
    }

    /// Set the action for `sig`.
    pub fn set(&self, sig: i32, act: abi::structs::KSigaction) {
        if let Some(a) = self.0.lock().get_mut(sig as usize) {
            *a = act;
        }
    }

    /// An unshared copy (for fork).
    pub fn copy(&self) -> Self {
        SigActions(alloc::sync::Arc::new(spin::Mutex::new(*self.0.lock())))
    }

    /// At exec: caught signals revert to the default action; ignored stay so.
    pub fn reset_for_exec(&self) {
        for a in self.0.lock().iter_mut() {
            if a.handler != abi::flags::SIG_IGN {
                *a = abi::structs::KSigaction::default();
            }
        }
    }
}

/// What the loop should do after a system call.
pub enum Next {
    /// Return to user mode.
    Resume,
    /// The process ended with this Linux wait status.
    Exited(i32),
    /// Wait for `key` (whose sequence number was `seq` before the check),
    /// then restart the system call.
    Block(crate::sched::WaitKey, u64),
    /// Sleep until this monotonic time, then restart the system call.
    Sleep(u64),
    /// Give the core to another thread, then continue.
    Yield,
    /// The thread ended; its process lives on.
    Gone,
}

/// How a run of a thread on a core ended.
pub enum Slice {
    /// Still runnable: back into the run queue.
    Requeue(Box<Thread>),
    /// Parked in a wait queue or sleeping.
    Parked,
    /// Its process ended with this wait status.
    Exited(Pid, i32),
    /// The thread ended (its process lives on, or another thread is ending
    /// the process).
    Gone,
}

/// Linux wait status of a normal exit.
pub fn exit_status(code: i32) -> i32 {
    (code & 0xff) << 8
}

/// Shell-style status of a wait status: the exit code, or 128 + signal.
pub fn shell_status(wait: i32) -> i32 {
    if wait & 0x7f == 0 {
        (wait >> 8) & 0xff
    } else {
        128 + (wait & 0x7f)
    }
}

/// Free user data frames an operation released. Every replica must have
/// applied the operation first (a lagging replica's page tables would still
/// map them), so this brings them all up to date; the caller has flushed
/// the TLBs of the cores that ran the address space.
fn frames_free(frames: Vec<u64>) {
    if frames.is_empty() {
        return;
    }
    for r in 0..state::replicas() {
        state::sync(r);
    }
    // A kernel copy that translated to one of them before has finished.
    crate::uaccess::quiesce();
    for f in frames {
        mem::free_frame(f);
    }
}

/// Free data frames released by an operation's response.
pub fn release(resp: KResult<Resp>) -> KResult<Resp> {
    match resp {
        Ok(Resp::Frames(f)) => {
            frames_free(f.free);
            Ok(Resp::Unit)
        }
        Ok(Resp::Mapped(addr, f)) => {
            frames_free(f.free);
            Ok(Resp::Val(addr))
        }
        other => other,
    }
}

/// Allocate a frame on this core's node (`ENOMEM` when memory is gone).
pub fn alloc_user_frame() -> KResult<u64> {
    mem::alloc_frame()
        .or_else(|| {
            // Page tables retired but held back by other cores' caches.
            mem::reclaim_all();
            mem::alloc_frame()
        })
        .ok_or(Errno::ENOMEM)
}

/// Back the page of `va` with a fresh frame, zeroed or filled from
/// `file = (ino, offset)`.
pub fn populate_page(pid: Pid, va: u64, file: Option<(u64, u64)>) -> KResult<()> {
    let page = va & !(PAGE_SIZE - 1);
    let f = alloc_user_frame()?;
    frame::zero(f);
    if let Some((ino, offset)) = file {
        if let Ok(Resp::Bytes(b)) = state::execute(ReadOp::ReadInode {
            ino,
            offset,
            len: PAGE_SIZE,
        }) {
            frame::write(f, 0, &b);
        }
    }
    match state::execute_mut(WriteOp::Populate {
        pid,
        pages: alloc::vec![(page, f)],
    }) {
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

/// Bring every replica's page tables up to date with an unmap, protection
/// downgrade or copy-on-write change of `pid`'s address space, then flush
/// the TLB here and on every core that runs it, and return when all have
/// done so (before the caller frees frames or writes a copied page).
pub fn tlb_shootdown(pid: Pid) {
    for r in 0..state::replicas() {
        state::sync(r);
    }
    crate::arch::flush_tlb();
    crate::sched::shootdown_tlb(pid);
    // Kernel copies through the direct map that translated before.
    crate::uaccess::quiesce();
}

/// Resolve a write fault on a copy-on-write page of `pid` at `va` whose
/// leaf shares `frame`: copy it into a fresh frame if another address space
/// still maps it (`shared`), else take it over in place. The caller retries
/// the access either way; `EAGAIN`: a fork of `pid` is still flushing TLBs,
/// retry without counting it as a failed attempt.
pub fn resolve_cow(pid: Pid, va: u64, frame_pa: u64, shared: bool) -> KResult<()> {
    let page = va & !(PAGE_SIZE - 1);
    // No fork may be flushing TLBs while the copy is taken, nor begin
    // before the copy is installed (the op checks the generation).
    let gen = match state::execute(ReadOp::ForkGen { pid })? {
        Resp::Val(g) => g,
        _ => return Err(Errno::EFAULT),
    };
    let copy = if shared {
        let f = alloc_user_frame()?;
        frame::copy(frame_pa, f);
        Some(f)
    } else {
        None
    };
    let r = state::execute_mut(WriteOp::Cow {
        pid,
        va: page,
        old: frame_pa,
        new: copy,
        gen,
    });
    if !matches!(r, Ok(Resp::Cow(kstate::CowOutcome::Copied))) {
        if let Some(f) = copy {
            mem::free_frame(f);
        }
    }
    match r {
        // Other cores running `pid` may cache the shared frame read-only:
        // they must see the copy from now on.
        Ok(Resp::Cow(kstate::CowOutcome::Copied)) => {
            tlb_shootdown(pid);
            Ok(())
        }
        Ok(Resp::Cow(kstate::CowOutcome::Busy)) => Err(Errno::EAGAIN),
        // Now writable (stale read-only TLB entries elsewhere only cause a
        // spurious fault), or changed meanwhile: retry.
        Ok(Resp::Cow(_)) => {
            crate::arch::cpu::invlpg(page);
            Ok(())
        }
        Ok(_) => Err(Errno::EFAULT),
        Err(e) => Err(e),
    }
}

/// `fork`: a child process sharing every resident page of the caller
/// copy-on-write; starts the child thread and returns its pid.
///
/// `child_tid` (the process form of `clone`): `(address, settid,
/// cleartid)`: store the child's id there in the child's memory, and/or
/// clear and wake it when the child exits (glibc's fork relies on both).
pub fn fork(t: &Thread, stack: u64, child_tid: Option<(u64, bool, bool)>) -> KResult<Pid> {
    // Shared anonymous pages must exist before the fork so that parent and
    // child map the same frames.
    const MAX_HOLES: usize = 1 << 18; // 1 GiB
    if let Ok(Resp::Pages(holes)) = state::execute(ReadOp::SharedHoles {
        pid: t.pid,
        limit: MAX_HOLES + 1,
    }) {
        if holes.len() > MAX_HOLES {
            return Err(Errno::ENOMEM);
        }
        for (va, _) in holes {
            // A page another thread unmapped meanwhile is simply not shared.
            if populate_page(t.pid, va, None) == Err(Errno::ENOMEM) {
                return Err(Errno::ENOMEM);
            }
        }
    }
    let child = match state::execute_mut(WriteOp::Fork { parent: t.pid }) {
        Ok(Resp::Pid(p)) => p,
        other => return Err(other.err().unwrap_or(Errno::EINVAL)),
    };
    // The parent's pages are read-only now: no core may keep writing
    // through a cached writable translation to a shared frame.
    tlb_shootdown(t.pid);
    // Only now may the parent's copy-on-write faults copy shared frames
    // (before, a copy could miss a write through a stale translation).
    let _ = state::execute_mut(WriteOp::ForkDone { pid: t.pid });
    let mut ctx = t.ctx.clone();
    ctx.rax = 0;
    if stack != 0 {
        ctx.rsp = stack;
    }
    let mut c = Box::new(Thread::new(child, ctx));
    c.sigmask = t.sigmask;
    // fork: the child gets its own copy of the actions.
    c.sigactions = t.sigactions.copy();
    c.name = t.name;
    c.affinity = t.affinity;
    if let Some((addr, settid, cleartid)) = child_tid {
        if settid {
            // Linux ignores a failed store.
            let _ = crate::uaccess::write(child, addr, &child.to_le_bytes());
        }
        if cleartid {
            c.clear_child_tid = addr;
        }
    }
    crate::sched::spawn(c);
    Ok(child)
}

/// Create a process (empty address space); returns its pid.
pub fn spawn(parent: Pid, exe: &[u8]) -> KResult<Pid> {
    match state::execute_mut(WriteOp::Spawn {
        parent,
        exe: exe.to_vec(),
    })? {
        Resp::Pid(p) => Ok(p),
        _ => Err(Errno::EINVAL),
    }
}

/// Largest executable file, and largest loaded image, `execve` accepts.
const MAX_IMAGE: u64 = 256 << 20;

/// Read a whole regular file (following symlinks) for execution.
fn read_executable(pid: Pid, path: &[u8]) -> KResult<Vec<u8>> {
    let st = match state::execute(ReadOp::Stat {
        pid,
        dirfd: abi::flags::AT_FDCWD,
        path: path.to_vec(),
        follow: true,
    })? {
        Resp::Stat(s) => s,
        _ => return Err(Errno::EINVAL),
    };
    if st.mode & abi::flags::S_IFMT == abi::flags::S_IFDIR {
        return Err(Errno::EACCES);
    }
    if st.mode & abi::flags::S_IFMT != abi::flags::S_IFREG || st.mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    // Images are read whole (and loaded eagerly): refuse absurd sizes.
    if st.size > MAX_IMAGE {
        return Err(Errno::ENOMEM);
    }
    match state::execute(ReadOp::ReadInode {
        ino: st.ino,
        offset: 0,
        len: st.size,
    })? {
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
pub fn exec(
    pid: Pid,
    path: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
) -> Result<Box<UserContext>, ExecError> {
    exec_depth(pid, path, argv, envp, 0)
}

/// `#!interpreter [arg]` scripts: the interpreter runs with argv =
/// interpreter, the optional argument, the script path, then argv[1..].
fn script_argv(bytes: &[u8], path: &[u8], argv: &[Vec<u8>]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let rest = bytes.strip_prefix(b"#!")?;
    let line = &rest[..rest
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(rest.len().min(255))];
    let line: &[u8] = line.trim_ascii();
    let (interp, arg) = match line.iter().position(|b| b.is_ascii_whitespace()) {
        Some(i) => (&line[..i], Some(line[i..].trim_ascii())),
        None => (line, None),
    };
    if interp.is_empty() {
        return None;
    }
    let mut v = alloc::vec![interp.to_vec()];
    if let Some(a) = arg.filter(|a| !a.is_empty()) {
        v.push(a.to_vec());
    }
    v.push(path.to_vec());
    v.extend(argv.iter().skip(1).cloned());
    Some((interp.to_vec(), v))
}

fn exec_depth(
    pid: Pid,
    path: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    depth: u32,
) -> Result<Box<UserContext>, ExecError> {
    let early = |errno| ExecError {
        errno,
        fatal: false,
    };
    let bytes = read_executable(pid, path).map_err(early)?;
    if bytes.starts_with(b"#!") {
        if depth >= 4 {
            return Err(early(Errno::ELOOP));
        }
        let (interp, new_argv) = script_argv(&bytes, path, argv).ok_or(early(Errno::ENOEXEC))?;
        return exec_depth(pid, &interp, &new_argv, envp, depth + 1);
    }
    let elf = elfload::parse(&bytes).map_err(|e| {
        log::debug!("exec {}: {e:?}", core::str::from_utf8(path).unwrap_or("?"));
        early(Errno::ENOEXEC)
    })?;
    let bias = if elf.kind == elfload::Kind::Dyn {
        PIE_BASE
    } else {
        0
    };
    let plan = elfload::plan(&elf, bias).map_err(|_| early(Errno::ENOEXEC))?;
    // Loading is eager: an image larger than this (e.g. a huge p_memsz)
    // fails before the point of no return.
    if plan
        .pages()
        .take((MAX_IMAGE / PAGE_SIZE) as usize + 1)
        .count() as u64
        > MAX_IMAGE / PAGE_SIZE
    {
        return Err(early(Errno::ENOMEM));
    }
    let exe = absolute(pid, path);
    let argv_refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let envp_refs: Vec<&[u8]> = envp.iter().map(|a| a.as_slice()).collect();
    // Check that the arguments fit before destroying anything.
    let aux = elfload::Aux {
        hwcap: u64::from(crate::arch::cpu::cpuid(1, 0).edx),
        ..elfload::Aux::new(&elf, &plan)
    };
    elfload::build_stack(STACK_TOP, &argv_refs, &envp_refs, &aux, [0; 16], &exe)
        .map_err(|e| early(e.errno()))?;

    // Point of no return: drop the old image (leave its page tables first:
    // every replica frees them).
    paging::load_root(0);
    release(state::execute_mut(WriteOp::ResetVm {
        pid,
        exe: exe.clone(),
    }))?;

    // Map the image in runs of pages with equal protection (segments may
    // share a page; it gets the union of their rights).
    let pages: Vec<(u64, u32)> = plan
        .pages()
        .map(|va| (va, plan.prot_of(va).unwrap_or(0)))
        .collect();
    let mut i = 0;
    while i < pages.len() {
        let (start, prot) = pages[i];
        let mut j = i + 1;
        while j < pages.len() && pages[j].1 == prot && pages[j].0 == pages[j - 1].0 + PAGE_SIZE {
            j += 1;
        }
        let len = (j - i) as u64 * PAGE_SIZE;
        release(state::execute_mut(WriteOp::Mmap {
            pid,
            at: MapAt::Fixed(start),
            len,
            prot,
            kind: VmaKind::Anon,
        }))?;
        i = j;
    }
    // Fill every page that holds file bytes now; the rest (bss) is
    // zero-filled on first touch.
    let mut batch = Vec::new();
    let mut page = [0u8; PAGE_SIZE as usize];
    for &(va, _) in &pages {
        let has_file = plan
            .regions
            .iter()
            .any(|r| va < r.file_end && va + PAGE_SIZE > r.file_start);
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
    state::execute_mut(WriteOp::SetBrkStart {
        pid,
        addr: plan.brk_start,
    })?;

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
    let (image, rsp) = elfload::build_stack(STACK_TOP, &argv_refs, &envp_refs, &aux, random, &exe)
        .map_err(|_| Errno::E2BIG)?;
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

/// Resolve a user page fault: `Ok(false)` if the access is not allowed
/// (SIGSEGV), `Err(ENOMEM)` when no frame is left for it.
fn handle_page_fault(pid: Pid, addr: u64, error_code: u64) -> KResult<bool> {
    let access = kstate::Access {
        write: error_code & 2 != 0,
        exec: error_code & 16 != 0,
        user: true,
    };
    let r = match state::execute(ReadOp::Fault {
        pid,
        va: addr,
        access,
    }) {
        Ok(Resp::Fault(kstate::FaultDecision::NeedsFrame { file, .. })) => {
            populate_page(pid, addr, file)
        }
        Ok(Resp::CowFault { frame, shared }) => resolve_cow(pid, addr, frame, shared),
        Ok(Resp::Fault(kstate::FaultDecision::Spurious)) => {
            crate::arch::cpu::invlpg(addr);
            Ok(())
        }
        _ => return Ok(false),
    };
    match r {
        // EAGAIN: a fork is flushing TLBs; the access faults again shortly.
        Ok(()) | Err(Errno::EAGAIN) => Ok(true),
        Err(Errno::ENOMEM) => Err(Errno::ENOMEM),
        Err(_) => Ok(false),
    }
}

/// Load the page tables of `t` (this node's replica).
fn load(t: &mut Thread) -> bool {
    // Each replica has its own page tables: the cached root is only valid
    // on the node it came from (threads migrate between nodes).
    let node = crate::arch::percpu::current().numa_node();
    if t.root_node != node {
        t.root = 0;
        t.root_node = node;
    }
    if t.root == 0 {
        match state::execute(ReadOp::Root { pid: t.pid }) {
            Ok(Resp::Val(r)) => t.root = r,
            _ => return false,
        }
    }
    paging::load_root(t.root);
    true
}

/// Signals whose default action is to ignore them.
fn ignored_by_default(sig: i32) -> bool {
    matches!(sig, 17 | 18 | 23 | 28) // SIGCHLD, SIGCONT, SIGURG, SIGWINCH
}

/// Act on pending signals before returning to user mode: run the handler
/// of a caught one (building its frame), drop ignored ones, and return the
/// wait status if one ends the process.
fn check_signals(t: &mut Thread) -> Option<i32> {
    // Skip the replicated read when no signal was sent to the process and
    // the mask is unchanged since the last look.
    let hint = crate::sched::hint_of(t.pid);
    if t.sig_checked == Some((hint, t.sigmask)) {
        return None;
    }
    t.sig_checked = Some((hint, t.sigmask));
    let pending = match state::execute(ReadOp::Pending {
        pid: t.pid,
        tid: t.tid,
    }) {
        Ok(Resp::Val(p)) => p,
        // The process is exiting or gone.
        _ => return Some(GONE),
    };
    if pending & !t.sigmask == 0 {
        return None;
    }
    let Ok(Resp::Val(sigs)) = state::execute_mut(WriteOp::TakeSignals {
        pid: t.pid,
        tid: t.tid,
        mask: t.sigmask,
    }) else {
        return None;
    };
    let mut delivered = false;
    for sig in 1..=64i32 {
        if sigs & (1u64 << (sig - 1)) == 0 {
            continue;
        }
        let act = t.sigactions.get(sig);
        if sig == abi::flags::SIGKILL
            || (act.handler == abi::flags::SIG_DFL && !ignored_by_default(sig))
        {
            log::debug!("pid {}: killed by signal {sig}", t.pid);
            return Some(sig);
        }
        if act.handler == abi::flags::SIG_IGN || act.handler == abi::flags::SIG_DFL || delivered {
            // Ignored; or a second caught signal in one go: it stays for the
            // next return to user mode.
            if delivered && act.handler > 1 {
                let _ = state::execute_mut(WriteOp::Signal {
                    pid: t.pid,
                    target: t.pid as i32,
                    sig: sig as u32,
                });
                crate::sched::signal_hint(t.pid);
            }
            continue;
        }
        // A blocked system call the handler interrupts returns EINTR, unless
        // SA_RESTART asks to restart it (pause and sigsuspend never restart).
        if let Some(nr) = t.restarting.take() {
            let never = nr == abi::sysno::PAUSE || nr == abi::sysno::RT_SIGSUSPEND;
            if act.flags & abi::flags::SA_RESTART == 0 || never {
                t.ctx.rip += 2;
                t.ctx.rax = (-(Errno::EINTR.0 as i64)) as u64;
                t.resume_at = None;
                t.sleep_deadline = None;
                t.poll_deadline = None;
                t.wait_deadline = None;
            } else {
                t.restarting = Some(nr);
            }
        }
        let before = t.sigmask;
        if let Some(m) = t.saved_mask.take() {
            // The frame must restore the mask from before rt_sigsuspend.
            t.sigmask = m;
        }
        let pid = t.pid;
        if crate::signal::deliver(t, sig, 0, u64::from(pid)).is_err() {
            t.sigmask = before;
            return Some(abi::flags::SIGSEGV);
        }
        delivered = true;
    }
    None
}

/// `check_signals` result: the thread's process is ending without it.
const GONE: i32 = -1;

/// Run thread `t` on this core until it blocks, is preempted or its
/// process ends.
pub fn run_slice(mut t: Box<Thread>) -> Slice {
    // The thread resumes right after a system call it made (see
    // `user::enter`); false on the first entry of a slice.
    let mut after_syscall = false;
    loop {
        let rip = t.ctx.rip;
        if let Some(status) = check_signals(&mut t) {
            if status == GONE || !exit_process(&t, status) {
                return Slice::Gone;
            }
            return Slice::Exited(t.pid, status);
        }
        // A signal frame (or a restart) moved it elsewhere.
        after_syscall &= t.ctx.rip == rip;
        if !load(&mut t) {
            return Slice::Exited(t.pid, abi::flags::SIGKILL);
        }
        let exit = user::enter(&mut t.ctx, after_syscall);
        after_syscall = false;
        let status = match exit {
            Exit::Syscall => {
                let nr = t.ctx.rax;
                begin_syscall(&mut t, nr);
                match syscall::dispatch(&mut t) {
                    Next::Resume => {
                        // rt_sigreturn and execve install a whole new
                        // context: those return through iretq.
                        after_syscall = !matches!(
                            nr,
                            abi::sysno::RT_SIGRETURN | abi::sysno::EXECVE | abi::sysno::EXECVEAT
                        );
                        continue;
                    }
                    Next::Exited(s) => {
                        leave_core(&mut t);
                        return Slice::Exited(t.pid, s);
                    }
                    Next::Gone => {
                        leave_core(&mut t);
                        return Slice::Gone;
                    }
                    Next::Yield => {
                        leave_core(&mut t);
                        return Slice::Requeue(t);
                    }
                    Next::Block(key, seq) => {
                        restart(&mut t, nr);
                        leave_core(&mut t);
                        crate::sched::park(key, seq, t);
                        return Slice::Parked;
                    }
                    Next::Sleep(deadline) => {
                        restart(&mut t, nr);
                        t.sleep_deadline = Some(deadline);
                        leave_core(&mut t);
                        crate::sched::sleep(deadline, t);
                        return Slice::Parked;
                    }
                }
            }
            Exit::Interrupt(v) => {
                if v == crate::arch::traps::VEC_TIMER {
                    // A core that stays in one user address space writes
                    // no CR3 of its own accord.
                    mem::tick();
                    // Nor does it run the scheduler loop: sleepers whose
                    // time has come must not wait for the slice to end.
                    crate::sched::wake_sleepers();
                    if crate::sched::others_waiting() {
                        leave_core(&mut t);
                        return Slice::Requeue(t);
                    }
                }
                continue;
            }
            Exit::Exception {
                vector: 14,
                error_code,
                cr2,
            } => {
                match handle_page_fault(t.pid, cr2, error_code) {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(_) => {
                        // Out of memory: like Linux's OOM killer, the process
                        // that needs the page dies with SIGKILL.
                        log::warn!("pid {}: out of memory at {:#x}: killed", t.pid, cr2);
                        if !exit_process(&t, abi::flags::SIGKILL) {
                            return Slice::Gone;
                        }
                        return Slice::Exited(t.pid, abi::flags::SIGKILL);
                    }
                }
                let code = if error_code & 1 != 0 { 2 } else { 1 }; // SEGV_ACCERR / SEGV_MAPERR
                if fault_handler(&mut t, abi::flags::SIGSEGV, code, cr2) {
                    continue;
                }
                log::info!(
                    "pid {}: segmentation fault at {:#x} (rip {:#x}, error {:#x})",
                    t.pid,
                    cr2,
                    t.ctx.rip,
                    error_code
                );
                abi::flags::SIGSEGV
            }
            Exit::Exception {
                vector, error_code, ..
            } => {
                let sig = signal_of(vector);
                let rip = t.ctx.rip;
                if fault_handler(&mut t, sig, 1, rip) {
                    continue;
                }
                log::info!(
                    "pid {}: CPU exception {} (error {:#x}) at rip {:#x}: signal {}",
                    t.pid,
                    vector,
                    error_code,
                    t.ctx.rip,
                    sig
                );
                sig
            }
        };
        if !exit_process(&t, status) {
            return Slice::Gone;
        }
        return Slice::Exited(t.pid, status);
    }
}

/// The thread's slice ends (it is handed back to the scheduler, parked or
/// done): keep its FPU state in its context so any core can resume it, and
/// leave its page tables.
fn leave_core(t: &mut Thread) {
    t.ctx.release_fpu();
    paging::load_root(0);
}

/// Make the thread re-execute system call `nr` when it next runs.
fn restart(t: &mut Thread, nr: u64) {
    t.ctx.rax = nr;
    t.ctx.rip -= 2; // `syscall` is two bytes long
    t.restarting = Some(nr);
    t.resume_at = Some((nr, t.ctx.rip));
}

/// Forget the state of an earlier system call (timeouts, the wake-up that
/// ended a wait) unless this one re-executes the call that blocked.
fn begin_syscall(t: &mut Thread, nr: u64) {
    let resumed = t.resume_at.take() == Some((nr, t.ctx.rip.wrapping_sub(2)));
    t.restarting = None;
    if !resumed {
        t.sleep_deadline = None;
        t.poll_deadline = None;
        t.wait_deadline = None;
        t.woken_by = None;
    }
}

/// Run the handler of a fault signal if one is installed and the signal is
/// not blocked; false if the process must die.
fn fault_handler(t: &mut Thread, sig: i32, code: i32, addr: u64) -> bool {
    let act = t.sigactions.get(sig);
    if act.handler <= 1 {
        return false;
    }
    if t.sigmask & (1u64 << (sig - 1)) != 0 {
        log::info!(
            "pid {} tid {}: signal {} is blocked: fatal",
            t.pid,
            t.tid,
            sig
        );
        return false;
    }
    match crate::signal::deliver(t, sig, code, addr) {
        Ok(()) => true,
        Err(e) => {
            log::info!(
                "pid {} tid {}: no room for the signal {} frame below rsp {:#x} ({:?}): fatal",
                t.pid,
                t.tid,
                sig,
                t.ctx.rsp,
                e
            );
            false
        }
    }
}

/// Bumped after every exit (which reparents the process's children), so a
/// thread may answer `getppid` from its last answer while the epoch is
/// unchanged: a null system call need not read the replicated state.
static REPARENT_EPOCH: AtomicU64 = AtomicU64::new(0);

/// The current reparent epoch (read before reading a parent pid).
pub fn reparent_epoch() -> u64 {
    REPARENT_EPOCH.load(Ordering::SeqCst)
}

/// Tear down a process that ended with wait status `status`: stop its
/// other threads (they leave the address space before it is freed), wake
/// its parent (and process 1, which inherits its children) and every pipe
/// waiter (its descriptors are closed). False if another thread is already
/// ending the process (this one just ends).
pub fn exit_process(t: &Thread, status: i32) -> bool {
    // Leave its page tables before every replica frees them.
    paging::load_root(0);
    crate::sched::set_current(0);
    if state::execute_mut(WriteOp::BeginExit { pid: t.pid }).is_err() {
        return false;
    }
    crate::sched::signal_hint(t.pid);
    crate::sched::wake_process(t.pid);
    crate::sched::shootdown(t.pid, &|| paging::load_root(0));
    let ppid = match state::execute(ReadOp::Proc { pid: t.pid }) {
        Ok(Resp::Proc(p)) => p.ppid,
        _ => 0,
    };
    // Free the memory first: once the parent can reap the zombie, all of it
    // is back.
    let _ = release(state::execute_mut(WriteOp::DropVm { pid: t.pid }));
    // The parent may reap this zombie as soon as the Exit op is applied and
    // must then not miss the SIGCHLD it made pending: bump its signal hint
    // before the op too, so that no look at its pending set between the op
    // and the hint bump below is skipped.
    if ppid != 0 {
        crate::sched::signal_hint(ppid);
    }
    let _ = release(state::execute_mut(WriteOp::Exit { pid: t.pid, status }));
    // The Exit op moved this process's children to process 1.
    REPARENT_EPOCH.fetch_add(1, Ordering::SeqCst);
    // The exit made SIGCHLD pending for the parent (ignored unless it
    // installed a handler; `wait` in shells relies on it ending sigsuspend).
    if ppid != 0 {
        crate::sched::signal_hint(ppid);
        crate::sched::wake_process(ppid);
    }
    crate::sched::wake_pipes();
    crate::sched::wake(crate::sched::WaitKey::Child(ppid));
    crate::sched::wake(crate::sched::WaitKey::Child(1));
    true
}

/// A thread leaves (`exit`): clear and wake its `clear_child_tid` futex,
/// and end the process if it was the last thread. Returns how the slice
/// ends.
pub fn exit_thread(t: &mut Thread, status: i32) -> Next {
    if t.clear_child_tid != 0 {
        let _ = crate::uaccess::write(t.pid, t.clear_child_tid, &0u32.to_le_bytes());
        crate::sched::wake_n(crate::sched::WaitKey::Futex(t.pid, t.clear_child_tid), 1);
    }
    match state::execute_mut(WriteOp::ExitThread {
        pid: t.pid,
        tid: t.tid,
    }) {
        Ok(Resp::Val(0)) => {
            if exit_process(t, status) {
                Next::Exited(status)
            } else {
                Next::Gone
            }
        }
        _ => Next::Gone,
    }
}

/// `clone` of a thread (`CLONE_VM | CLONE_THREAD`): a new thread of the
/// calling process starting with the caller's registers, `rax = 0`, the
/// given stack and TLS.
pub fn clone_thread(
    t: &Thread,
    flags: u64,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> KResult<Pid> {
    use abi::flags::{CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_SETTLS};
    let tid = match state::execute_mut(WriteOp::NewThread { pid: t.pid })? {
        Resp::Pid(p) => p,
        _ => return Err(Errno::EINVAL),
    };
    // Linux ignores a failed store here: the thread exists either way.
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = crate::uaccess::write(t.pid, ptid, &tid.to_le_bytes());
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        let _ = crate::uaccess::write(t.pid, ctid, &tid.to_le_bytes());
    }
    let mut ctx = t.ctx.clone();
    ctx.rax = 0;
    if stack != 0 {
        ctx.rsp = stack;
    }
    if flags & CLONE_SETTLS != 0 {
        ctx.fs_base = tls;
    }
    let mut c = Box::new(Thread::new(t.pid, ctx));
    c.tid = tid;
    c.sigmask = t.sigmask;
    // CLONE_SIGHAND: threads share one table of actions.
    c.sigactions = t.sigactions.clone();
    c.affinity = t.affinity;
    if flags & CLONE_CHILD_CLEARTID != 0 {
        c.clear_child_tid = ctid;
    }
    crate::sched::spawn(c);
    Ok(tid)
}

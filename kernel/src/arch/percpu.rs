//! Per-core data, reached through the GS base: core id, APIC id, NUMA node,
//! its GDT and TSS, stacks, timer ticks and the cross-core call mailbox.

use super::{cpu, paging::KernelStack};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Most cores the kernel supports.
pub const MAX_CORES: usize = 64;

const IA32_GS_BASE: u32 = 0xC000_0101;

/// GDT selectors.
pub mod sel {
    /// Kernel code.
    pub const KCODE: u16 = 0x08;
    /// Kernel data.
    pub const KDATA: u16 = 0x10;
    /// User data (RPL 3).
    pub const UDATA: u16 = 0x18 | 3;
    /// User code (RPL 3).
    pub const UCODE: u16 = 0x20 | 3;
    /// Task state segment.
    pub const TSS: u16 = 0x28;
}

/// The 64-bit task state segment.
#[repr(C, packed)]
struct Tss {
    _reserved0: u32,
    rsp: [u64; 3],
    _reserved1: u64,
    ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    iomap_base: u16,
}

/// A call posted to another core (see `smp::run_on`).
pub struct Call {
    pub(super) func: *const (dyn Fn() + Sync),
    /// Targets that have not finished the call yet.
    pub(super) left: AtomicU32,
    /// Core that posted the call (woken when it is done, if halted).
    pub(super) poster: usize,
}

/// Everything one core keeps for itself.
#[repr(C, align(128))]
pub struct PerCore {
    self_ptr: AtomicU64,
    // The next three words are used by the user-mode entry and exit code in
    // `user.rs` at fixed offsets from GS (8, 16, 24): keep them here.
    /// User stack pointer saved on `syscall` entry (gs:8).
    pub(super) user_rsp_scratch: AtomicU64,
    /// Kernel stack pointer of the `user::enter` caller (gs:16).
    pub(super) kernel_rsp_save: AtomicU64,
    /// The `UserContext` being run (gs:24).
    pub(super) user_ctx: AtomicU64,
    /// Dense core id (0 is the bootstrap processor).
    pub id: AtomicUsize,
    /// Local APIC id.
    pub apic_id: AtomicU32,
    /// NUMA node of this core.
    pub node: AtomicUsize,
    /// If not `usize::MAX`, heap allocations go to this node instead.
    pub heap_node_override: AtomicUsize,
    /// Timer interrupts taken.
    pub ticks: AtomicU64,
    /// Set once the core has finished initialising.
    pub online: AtomicBool,
    /// Bounds of the main kernel stack (for stack traces).
    pub stack_bottom: AtomicU64,
    /// See `stack_bottom`.
    pub stack_top: AtomicU64,
    /// Cross-core calls posted to this core: one slot per posting core
    /// (each core has at most one call outstanding per target), and a bit
    /// per slot that may be full.
    pub(super) mailbox: [AtomicPtr<Call>; MAX_CORES],
    pub(super) mail_bits: AtomicU64,
    /// The core is halted (or about to halt) waiting for its calls to be
    /// done: targets send it a wake-up IPI.
    pub(super) halted_in_wait: AtomicBool,
    /// Posted calls this core is running right now (a call may itself call
    /// other cores, as in the `ipi` kernel test); such a nested wait may be
    /// in an interrupt handler on an IST stack, so it never halts.
    pub(super) calls_running: AtomicU32,
    gdt: UnsafeCell<[u64; 7]>,
    tss: UnsafeCell<Tss>,
}

// SAFETY: the UnsafeCell fields (GDT, TSS) are written only by the owning
// core during its initialisation, before it publishes itself as online.
unsafe impl Sync for PerCore {}

impl PerCore {
    const fn new() -> Self {
        PerCore {
            self_ptr: AtomicU64::new(0),
            user_rsp_scratch: AtomicU64::new(0),
            kernel_rsp_save: AtomicU64::new(0),
            user_ctx: AtomicU64::new(0),
            id: AtomicUsize::new(0),
            apic_id: AtomicU32::new(0),
            node: AtomicUsize::new(0),
            heap_node_override: AtomicUsize::new(usize::MAX),
            ticks: AtomicU64::new(0),
            online: AtomicBool::new(false),
            stack_bottom: AtomicU64::new(0),
            stack_top: AtomicU64::new(0),
            mailbox: [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CORES],
            mail_bits: AtomicU64::new(0),
            halted_in_wait: AtomicBool::new(false),
            calls_running: AtomicU32::new(0),
            gdt: UnsafeCell::new([0; 7]),
            tss: UnsafeCell::new(Tss {
                _reserved0: 0,
                rsp: [0; 3],
                _reserved1: 0,
                ist: [0; 7],
                _reserved2: 0,
                _reserved3: 0,
                iomap_base: 104,
            }),
        }
    }

    /// Dense core id.
    pub fn core_id(&self) -> usize {
        self.id.load(Ordering::Relaxed)
    }

    /// NUMA node.
    pub fn numa_node(&self) -> usize {
        self.node.load(Ordering::Relaxed)
    }
}

static CORES: [PerCore; MAX_CORES] = [const { PerCore::new() }; MAX_CORES];
static GS_READY: AtomicBool = AtomicBool::new(false);

/// The per-core data of core `id`.
pub fn core(id: usize) -> &'static PerCore {
    &CORES[id]
}

/// The per-core data of the running core, if per-core data is set up.
pub fn try_current() -> Option<&'static PerCore> {
    if !GS_READY.load(Ordering::Relaxed) {
        return None;
    }
    let p: u64;
    // SAFETY: GS:0 holds the self pointer on every core once GS_READY is set;
    // a core that has not set its GS base yet reads 0 (GS base is 0 at reset).
    unsafe { core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly)) };
    if p == 0 {
        None
    } else {
        // SAFETY: p points into CORES (set by `init`).
        Some(unsafe { &*(p as *const PerCore) })
    }
}

/// The per-core data of the running core (core 0's before setup).
pub fn current() -> &'static PerCore {
    try_current().unwrap_or(&CORES[0])
}

/// IST slots (1-based as in the IDT).
pub mod ist {
    /// CPU exceptions.
    pub const EXCEPTION: u8 = 1;
    /// Double fault.
    pub const DOUBLE_FAULT: u8 = 2;
    /// NMI and machine check.
    pub const NMI: u8 = 3;
    /// Device and inter-processor interrupts.
    pub const IRQ: u8 = 4;
}

/// The stacks a core needs.
pub struct CoreStacks {
    /// Main kernel stack.
    pub main: KernelStack,
    /// IST stacks, indexed by `ist::* - 1`.
    pub ist: [KernelStack; 4],
}

/// Set up this core's GDT, TSS, IDT and GS base.
pub fn init(id: usize, apic_id: u32, node: usize, stacks: &CoreStacks) {
    let pc = &CORES[id];
    pc.id.store(id, Ordering::Relaxed);
    pc.apic_id.store(apic_id, Ordering::Relaxed);
    pc.node.store(node, Ordering::Relaxed);
    pc.stack_bottom.store(stacks.main.bottom, Ordering::Relaxed);
    pc.stack_top.store(stacks.main.top, Ordering::Relaxed);
    pc.self_ptr
        .store(pc as *const PerCore as u64, Ordering::Relaxed);

    // SAFETY: only this core touches its own TSS/GDT, before going online.
    let tss = unsafe { &mut *pc.tss.get() };
    for (i, s) in stacks.ist.iter().enumerate() {
        tss.ist[i] = s.top;
    }
    tss.rsp[0] = stacks.main.top;
    let tss_addr = tss as *const Tss as u64;
    let limit = (core::mem::size_of::<Tss>() - 1) as u64;
    // SAFETY: as above.
    let gdt = unsafe { &mut *pc.gdt.get() };
    gdt[0] = 0;
    gdt[1] = 0x00af_9a00_0000_ffff; // kernel code
    gdt[2] = 0x00cf_9200_0000_ffff; // kernel data
    gdt[3] = 0x00cf_f200_0000_ffff; // user data
    gdt[4] = 0x00af_fa00_0000_ffff; // user code
    gdt[5] = (limit & 0xffff)
        | ((tss_addr & 0xff_ffff) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((tss_addr >> 24) & 0xff) << 56);
    gdt[6] = tss_addr >> 32;

    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let ptr = Pointer {
        limit: (7 * 8 - 1) as u16,
        base: gdt.as_ptr() as u64,
    };
    // SAFETY: the GDT is valid and lives forever; reloading CS via a far
    // return and the data selectors keeps the flat kernel segments.
    unsafe {
        core::arch::asm!(
            "lgdt [{ptr}]",
            "push {kcode}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {kdata:x}",
            "mov es, {kdata:x}",
            "mov ss, {kdata:x}",
            "ltr {tss:x}",
            ptr = in(reg) &ptr,
            kcode = const sel::KCODE as u64,
            kdata = in(reg) sel::KDATA as u64,
            tss = in(reg) sel::TSS as u64,
            tmp = out(reg) _,
        );
        cpu::wrmsr(IA32_GS_BASE, pc as *const PerCore as u64);
    }
    super::traps::load_idt();
    super::user::init_core();
    let (smep, smap) = super::cpu::enable_protection();
    if id == 0 {
        log::info!(
            "memory protection: NX, WP, SMEP {}, SMAP {}",
            if smep { "on" } else { "off (not offered)" },
            if smap { "on" } else { "off (not offered)" }
        );
    }
    GS_READY.store(true, Ordering::Release);
}

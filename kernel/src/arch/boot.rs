//! PVH entry: the ELF note QEMU looks for, the 32-bit entry stub that builds
//! the boot page tables and enters long mode, and the AP trampoline.
//!
//! Boot page tables (all in the identity-mapped `.boot` section):
//! - PML4[0]   -> identity map of the first 4 GiB (2 MiB pages);
//! - PML4[256] -> the same 4 GiB at `PHYS_OFFSET` (the direct map);
//! - PML4[511] -> first GiB at `KERNEL_BASE` (the kernel image).
//!
//! They are used until the kernel builds its own tables, and by application
//! processors on their way into long mode.

core::arch::global_asm!(
    r#"
    .section .note.pvh, "a"
    .balign 4
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .balign 4
    .long pvh_start
    .balign 4

    .section .boot.bss, "aw", @nobits
    .balign 4096
    .global boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
boot_stack32:   .skip 4096
boot_stack32_top:

    .section .boot.data, "aw"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .boot.text, "ax"
    .code32
    .global pvh_start
pvh_start:
    cli
    cld
    mov %ebx, %edi
    mov $boot_stack32_top, %esp

    mov $boot_pdpt_low, %eax
    or $3, %eax
    mov %eax, boot_pml4
    mov %eax, boot_pml4 + 256 * 8
    mov $boot_pdpt_high, %eax
    or $3, %eax
    mov %eax, boot_pml4 + 511 * 8

    mov $boot_pd, %eax
    or $3, %eax
    xor %ecx, %ecx
1:  mov %eax, boot_pdpt_low(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jne 1b

    mov $boot_pd, %eax
    or $3, %eax
    mov %eax, boot_pdpt_high + 510 * 8

    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, boot_pd(, %ecx, 8)
    mov %ecx, %eax
    shr $11, %eax
    mov %eax, boot_pd + 4(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $0xC0000080, %ecx
    rdmsr
    or $0x900, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax
    mov %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $boot_long_mode

    .code64
boot_long_mode:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov %edi, %edi
    movabs $bsp_boot_stack_top, %rsp
    xor %ebp, %ebp
    call enable_sse_low
    movabs $bsp_entry, %rax
    call *%rax
3:  hlt
    jmp 3b

    /* CR0: clear EM, set MP; CR4: OSFXSR | OSXMMEXCPT. Clobbers rax. */
enable_sse_low:
    mov %cr0, %rax
    and $~4, %rax
    or $2, %rax
    mov %rax, %cr0
    mov %cr4, %rax
    or $0x600, %rax
    mov %rax, %cr4
    ret

    .section .bss.bsp_boot_stack, "aw", @nobits
    .balign 4096
    .global bsp_boot_stack_bottom
bsp_boot_stack_bottom:
    .skip 65536
    .global bsp_boot_stack_top
bsp_boot_stack_top:

    /* Application-processor trampoline. Copied to TRAMPOLINE_PHYS (0x8000)
       and entered in real mode by the startup IPI. */
    .section .trampoline, "ax"
    .code16
    .global ap_trampoline_start
ap_trampoline_start:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    lgdtl 0x8000 + (tramp_gdt_ptr - ap_trampoline_start)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $(0x8000 + (tramp32 - ap_trampoline_start))
    .code32
tramp32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov 0x8000 + (tramp_cr3 - ap_trampoline_start), %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $0x900, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax
    mov %eax, %cr0
    ljmp $0x18, $(0x8000 + (tramp64 - ap_trampoline_start))
    .code64
tramp64:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov %cr0, %rax
    and $~4, %rax
    or $2, %rax
    mov %rax, %cr0
    mov %cr4, %rax
    or $0x600, %rax
    mov %rax, %cr4
    mov 0x8000 + (tramp_stack - ap_trampoline_start), %rsp
    mov 0x8000 + (tramp_arg - ap_trampoline_start), %rdi
    mov 0x8000 + (tramp_entry - ap_trampoline_start), %rax
    xor %ebp, %ebp
    call *%rax
4:  hlt
    jmp 4b
    .balign 8
tramp_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
tramp_gdt_ptr:
    .word 31
    .long 0x8000 + (tramp_gdt - ap_trampoline_start)
    .balign 8
    .global ap_tramp_cr3
ap_tramp_cr3:
tramp_cr3:   .quad 0
    .global ap_tramp_stack
ap_tramp_stack:
tramp_stack: .quad 0
    .global ap_tramp_entry
ap_tramp_entry:
tramp_entry: .quad 0
    .global ap_tramp_arg
ap_tramp_arg:
tramp_arg:   .quad 0
    .global ap_trampoline_end
ap_trampoline_end:
    .code64
"#,
    options(att_syntax)
);

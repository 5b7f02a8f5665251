package containerinit

import "golang.org/x/sys/unix"

// nativeAuditArch is the ABI whose syscall numbers the filter knows.
const nativeAuditArch = unix.AUDIT_ARCH_X86_64

// foreignSyscallBit marks the x32 ABI's syscalls, which arrive with the
// x86-64 arch and their own numbers.
const foreignSyscallBit = 0x40000000

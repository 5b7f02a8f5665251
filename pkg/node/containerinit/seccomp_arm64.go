package containerinit

import "golang.org/x/sys/unix"

// nativeAuditArch is the ABI whose syscall numbers the filter knows.
const nativeAuditArch = unix.AUDIT_ARCH_AARCH64

// foreignSyscallBit is 0: arm64 has one ABI under its arch.
const foreignSyscallBit = 0

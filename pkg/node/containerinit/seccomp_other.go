//go:build !amd64 && !arm64

package containerinit

// nativeAuditArch is 0 where the filter does not know the syscall
// numbers: applySeccomp refuses rather than guess.
const nativeAuditArch = 0

const foreignSyscallBit = 0

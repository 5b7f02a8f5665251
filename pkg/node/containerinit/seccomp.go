package containerinit

import (
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// What of a syscall a seccomp filter reads (struct seccomp_data).
const (
	seccompNr       = 0
	seccompArch     = 4
	seccompArgsLow0 = 16 // the low 32 bits of the first argument, little-endian
)

// namespaceCloneFlags are clone's flags that make new namespaces.
const namespaceCloneFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// refusal is a syscall the runtime default profile refuses, the error it
// returns, and the capabilities of which any one lets it through.
type refusal struct {
	nr    uintptr
	errno syscall.Errno
	// unlessKept are capability names; none means always refused.
	unlessKept []string
}

// runtimeDefaultRefusals are the syscalls containerd's and Docker's
// RuntimeDefault seccomp profile refuses that the kernel would allow a
// container without capabilities. The rest of what the profile refuses
// (mount, reboot, module loading, setting the clock …) the kernel
// already refuses a process without the capability, which the container
// does not have unless it adds it (DefaultCapabilities).
var runtimeDefaultRefusals = []refusal{
	// The kernel keyring is not namespaced.
	{nr: unix.SYS_ADD_KEY, errno: unix.EPERM},
	{nr: unix.SYS_KEYCTL, errno: unix.EPERM},
	{nr: unix.SYS_REQUEST_KEY, errno: unix.EPERM},
	// Kernel attack surface the profile keeps from containers.
	{nr: unix.SYS_USERFAULTFD, errno: unix.EPERM},
	{nr: unix.SYS_IO_URING_SETUP, errno: unix.EPERM},
	{nr: unix.SYS_IO_URING_ENTER, errno: unix.EPERM},
	{nr: unix.SYS_IO_URING_REGISTER, errno: unix.EPERM},
	{nr: unix.SYS_BPF, errno: unix.EPERM, unlessKept: []string{"SYS_ADMIN", "BPF"}},
	{nr: unix.SYS_PERF_EVENT_OPEN, errno: unix.EPERM, unlessKept: []string{"SYS_ADMIN", "PERFMON"}},
	// New namespaces, a user namespace above all, would give the process
	// capabilities of its own inside them.
	{nr: unix.SYS_UNSHARE, errno: unix.EPERM, unlessKept: []string{"SYS_ADMIN"}},
	{nr: unix.SYS_SETNS, errno: unix.EPERM, unlessKept: []string{"SYS_ADMIN"}},
	// clone3's flags sit in memory, out of a filter's reach: ENOSYS
	// makes the C libraries fall back to clone, whose flags it checks.
	{nr: unix.SYS_CLONE3, errno: unix.ENOSYS, unlessKept: []string{"SYS_ADMIN"}},
	{nr: unix.SYS_KCMP, errno: unix.EPERM, unlessKept: []string{"SYS_PTRACE"}},
	// NUMA placement.
	{nr: unix.SYS_GET_MEMPOLICY, errno: unix.EPERM, unlessKept: []string{"SYS_NICE"}},
	{nr: unix.SYS_SET_MEMPOLICY, errno: unix.EPERM, unlessKept: []string{"SYS_NICE"}},
	{nr: unix.SYS_MBIND, errno: unix.EPERM, unlessKept: []string{"SYS_NICE"}},
	{nr: unix.SYS_MOVE_PAGES, errno: unix.EPERM, unlessKept: []string{"SYS_NICE"}},
}

// runtimeDefaultFilter is the program of the RuntimeDefault profile for a
// process that keeps the capabilities kept: the refusals, clone with a
// namespace flag refused unless CAP_SYS_ADMIN is kept, and every syscall
// of another ABI (32-bit x86 and x32 on amd64) refused, where the
// runtimes' profile maps each ABI's numbers.
func runtimeDefaultFilter(kept []int) []unix.SockFilter {
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
	}
	const (
		load  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		ifEq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ifGE  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ifSet = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	refuse := func(errno syscall.Errno) unix.SockFilter {
		return stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(errno))
	}
	keeps := func(names ...string) bool {
		return slices.ContainsFunc(names, func(name string) bool {
			return slices.Contains(kept, slices.Index(capabilityNames[:], name))
		})
	}
	prog := []unix.SockFilter{
		stmt(load, seccompArch),
		jump(ifEq, nativeAuditArch, 1, 0),
		refuse(unix.EPERM),
		stmt(load, seccompNr),
	}
	if foreignSyscallBit != 0 {
		prog = append(prog, jump(ifGE, foreignSyscallBit, 0, 1), refuse(unix.EPERM))
	}
	for _, r := range runtimeDefaultRefusals {
		if keeps(r.unlessKept...) {
			continue
		}
		prog = append(prog, jump(ifEq, uint32(r.nr), 0, 1), refuse(r.errno))
	}
	if !keeps("SYS_ADMIN") {
		prog = append(prog,
			jump(ifEq, unix.SYS_CLONE, 0, 3),
			stmt(load, seccompArgsLow0),
			jump(ifSet, namespaceCloneFlags, 0, 1),
			refuse(unix.EPERM),
		)
	}
	return append(prog, stmt(ret, unix.SECCOMP_RET_ALLOW))
}

// applySeccomp installs the RuntimeDefault filter on this thread, which
// exec then hands to the container's program. It runs while the thread
// still has CAP_SYS_ADMIN, before it changes user, so that it does not
// need no_new_privs, which allowPrivilegeEscalation alone decides.
func applySeccomp(p Privileges) error {
	if !p.SeccompRuntimeDefault {
		return nil
	}
	if nativeAuditArch == 0 {
		return fmt.Errorf("seccompProfile RuntimeDefault: not available on %s", runtime.GOARCH)
	}
	kept := p.Capabilities
	if !p.LimitCapabilities {
		kept = make([]int, len(capabilityNames))
		for i := range kept {
			kept[i] = i
		}
	}
	filter := runtimeDefaultFilter(kept)
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fmt.Errorf("seccompProfile RuntimeDefault: %w", err)
	}
	return nil
}

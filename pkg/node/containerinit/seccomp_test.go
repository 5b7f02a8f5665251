package containerinit

import (
	"encoding/binary"
	"syscall"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestRuntimeDefaultFilter runs the filter's program in a BPF interpreter
// on the syscalls it decides, for a container that keeps the default
// capabilities and for one that also keeps SYS_ADMIN, and checks the
// verdict of each.
func TestRuntimeDefaultFilter(t *testing.T) {
	defaults, err := CapabilityPrivileges(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	withSysAdmin, err := CapabilityPrivileges(nil, []string{"SYS_ADMIN"})
	if err != nil {
		t.Fatal(err)
	}
	const allow = unix.SECCOMP_RET_ALLOW
	refuse := func(errno syscall.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(errno) }
	type verdicts struct {
		name         string
		arch, nr     uint32
		arg0         uint32
		want         uint32
		wantSysAdmin uint32
	}
	tests := []verdicts{
		{name: "read", nr: unix.SYS_READ, want: allow, wantSysAdmin: allow},
		{name: "keyctl", nr: unix.SYS_KEYCTL, want: refuse(unix.EPERM), wantSysAdmin: refuse(unix.EPERM)},
		{name: "io_uring_setup", nr: unix.SYS_IO_URING_SETUP, want: refuse(unix.EPERM), wantSysAdmin: refuse(unix.EPERM)},
		{name: "unshare", nr: unix.SYS_UNSHARE, want: refuse(unix.EPERM), wantSysAdmin: allow},
		{name: "bpf", nr: unix.SYS_BPF, want: refuse(unix.EPERM), wantSysAdmin: allow},
		{name: "clone3", nr: unix.SYS_CLONE3, want: refuse(unix.ENOSYS), wantSysAdmin: allow},
		{name: "mbind, which needs SYS_NICE", nr: unix.SYS_MBIND, want: refuse(unix.EPERM), wantSysAdmin: refuse(unix.EPERM)},
		{name: "clone of a thread", nr: unix.SYS_CLONE, arg0: unix.CLONE_VM | unix.CLONE_THREAD, want: allow, wantSysAdmin: allow},
		{name: "clone into a user namespace", nr: unix.SYS_CLONE, arg0: unix.CLONE_NEWUSER, want: refuse(unix.EPERM), wantSysAdmin: allow},
		{name: "clone into a mount namespace", nr: unix.SYS_CLONE, arg0: unix.CLONE_NEWNS, want: refuse(unix.EPERM), wantSysAdmin: allow},
		{name: "clone into a network namespace", nr: unix.SYS_CLONE, arg0: unix.CLONE_NEWNET | unix.CLONE_VM, want: refuse(unix.EPERM), wantSysAdmin: allow},
		{name: "another ABI", arch: unix.AUDIT_ARCH_I386, nr: unix.SYS_READ, want: refuse(unix.EPERM), wantSysAdmin: refuse(unix.EPERM)},
	}
	if foreignSyscallBit != 0 {
		tests = append(tests, verdicts{name: "x32", nr: foreignSyscallBit | unix.SYS_READ, want: refuse(unix.EPERM), wantSysAdmin: refuse(unix.EPERM)})
	}
	run := func(t *testing.T, kept []int, arch, nr, arg0 uint32) uint32 {
		t.Helper()
		filter := runtimeDefaultFilter(kept)
		raw := make([]bpf.Instruction, len(filter))
		for i, f := range filter {
			raw[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}.Disassemble()
		}
		vm, err := bpf.NewVM(raw)
		if err != nil {
			t.Fatalf("the filter's program: %v", err)
		}
		// struct seccomp_data. The interpreter loads words big-endian
		// where the kernel loads them in the machine's order: written
		// big-endian, each word reads as the kernel would read it.
		data := make([]byte, 64)
		binary.BigEndian.PutUint32(data[seccompNr:], nr)
		binary.BigEndian.PutUint32(data[seccompArch:], arch)
		binary.BigEndian.PutUint32(data[seccompArgsLow0:], arg0)
		verdict, err := vm.Run(data)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(verdict)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arch := tt.arch
			if arch == 0 {
				arch = nativeAuditArch
			}
			if got := run(t, defaults.Capabilities, arch, tt.nr, tt.arg0); got != tt.want {
				t.Errorf("with the default capabilities: %#x, want %#x", got, tt.want)
			}
			if got := run(t, withSysAdmin.Capabilities, arch, tt.nr, tt.arg0); got != tt.wantSysAdmin {
				t.Errorf("with SYS_ADMIN kept too: %#x, want %#x", got, tt.wantSysAdmin)
			}
		})
	}
}

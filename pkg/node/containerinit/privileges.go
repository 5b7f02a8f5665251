package containerinit

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Privileges are a container's securityContext beyond its user, as the
// container init applies them.
type Privileges struct {
	// NoNewPrivileges sets no_new_privs before exec, so that setuid
	// executables and file capabilities grant nothing
	// (allowPrivilegeEscalation: false).
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// LimitCapabilities keeps the process to Capabilities: they are its
	// bounding set, all a root process has after exec and the most an
	// executable's file capabilities give another user. Without it the
	// process keeps the node's.
	LimitCapabilities bool `json:"limitCapabilities,omitempty"`
	// Capabilities are numbers, as in <linux/capability.h>.
	Capabilities []int `json:"capabilities,omitempty"`
	// SeccompRuntimeDefault filters the process's syscalls as the
	// runtimes' RuntimeDefault profile does (seccomp.go).
	SeccompRuntimeDefault bool `json:"seccompRuntimeDefault,omitempty"`
}

// capabilityNames are the capabilities' names without CAP_, indexed by
// number, as Kubernetes' securityContext.capabilities spells them.
var capabilityNames = [...]string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// DefaultCapabilities are the capabilities a container that is not
// privileged starts from, before its securityContext drops and adds: the
// set containerd and Docker give, so that a root container has on the
// process node what it would have on a cluster, neither more (no
// SYS_ADMIN, SYS_MODULE or NET_ADMIN over the host's kernel) nor less.
var DefaultCapabilities = []string{
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
	"SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
	"AUDIT_WRITE",
}

// CapabilityPrivileges returns the capabilities a container keeps when
// it drops drop and adds add (Kubernetes' names, with or without CAP_, in
// any case; ALL in drop drops every one, in add adds every one) from
// DefaultCapabilities.
func CapabilityPrivileges(drop, add []string) (Privileges, error) {
	keep := make([]bool, len(capabilityNames))
	for _, name := range DefaultCapabilities {
		keep[slices.Index(capabilityNames[:], name)] = true
	}
	for _, list := range []struct {
		names []string
		kept  bool
	}{{drop, false}, {add, true}} {
		for _, name := range list.names {
			if strings.EqualFold(name, "ALL") {
				for i := range keep {
					keep[i] = list.kept
				}
				continue
			}
			n := slices.Index(capabilityNames[:], strings.TrimPrefix(strings.ToUpper(name), "CAP_"))
			if n < 0 {
				return Privileges{}, fmt.Errorf("unknown capability %q in securityContext.capabilities: want a Linux capability such as NET_BIND_SERVICE", name)
			}
			keep[n] = list.kept
		}
	}
	p := Privileges{LimitCapabilities: true, Capabilities: []int{}}
	for n, kept := range keep {
		if kept {
			p.Capabilities = append(p.Capabilities, n)
		}
	}
	return p, nil
}

// limitCapabilities drops from this thread's bounding set every
// capability the kernel knows that p does not keep, and empties its
// inheritable set (as container runtimes do since CVE-2022-24769): after
// exec a root process then has exactly the kept ones and another user
// none but what file capabilities give within them.
func limitCapabilities(p Privileges) error {
	if !p.LimitCapabilities {
		return nil
	}
	for n := 0; ; n++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break // past the last capability this kernel knows
			}
			return fmt.Errorf("reading capability %d: %w", n, err)
		}
		if slices.Contains(p.Capabilities, n) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil {
			return fmt.Errorf("dropping capability %s: %w", capabilityName(n), err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading the capabilities: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clearing the inheritable capabilities: %w", err)
	}
	return nil
}

func capabilityName(n int) string {
	if n < len(capabilityNames) {
		return "CAP_" + capabilityNames[n]
	}
	return fmt.Sprintf("capability %d", n)
}

package node

import (
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/node/containerinit"
)

// containerPrivileges is what of sc the container init applies beyond
// the user: allowPrivilegeEscalation: false and the capabilities dropped
// and added. A container that sets no capabilities keeps the node's, as
// a privileged one does: the process node has no runtime's default set
// to start from (docs/node.md). Seccomp profiles are not applied.
func containerPrivileges(sc *corev1.SecurityContext) (containerinit.Privileges, error) {
	if sc == nil || (sc.Privileged != nil && *sc.Privileged) {
		return containerinit.Privileges{}, nil
	}
	var p containerinit.Privileges
	if c := sc.Capabilities; c != nil && (len(c.Drop) > 0 || len(c.Add) > 0) {
		var err error
		if p, err = containerinit.CapabilityPrivileges(capabilityNames(c.Drop), capabilityNames(c.Add)); err != nil {
			return containerinit.Privileges{}, err
		}
	}
	p.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	return p, nil
}

func capabilityNames(caps []corev1.Capability) []string {
	names := make([]string, len(caps))
	for i, c := range caps {
		names[i] = string(c)
	}
	return names
}

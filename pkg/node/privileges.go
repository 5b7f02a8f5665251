package node

import (
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/node/containerinit"
)

// containerPrivileges is what of sc the container init applies beyond
// the user: the capabilities, the runtime's default set with those sc
// drops and adds (docs/node.md), and allowPrivilegeEscalation: false. A
// privileged container keeps the node's capabilities, as on a cluster.
// Seccomp profiles are not applied.
func containerPrivileges(sc *corev1.SecurityContext) (containerinit.Privileges, error) {
	if sc != nil && sc.Privileged != nil && *sc.Privileged {
		return containerinit.Privileges{}, nil
	}
	var drop, add []string
	if sc != nil && sc.Capabilities != nil {
		drop, add = capabilityNames(sc.Capabilities.Drop), capabilityNames(sc.Capabilities.Add)
	}
	p, err := containerinit.CapabilityPrivileges(drop, add)
	if err != nil {
		return containerinit.Privileges{}, err
	}
	p.NoNewPrivileges = sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	return p, nil
}

func capabilityNames(caps []corev1.Capability) []string {
	names := make([]string, len(caps))
	for i, c := range caps {
		names[i] = string(c)
	}
	return names
}

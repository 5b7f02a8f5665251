package node

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/node/containerinit"
)

// containerPrivileges is what of the container's securityContext sc (and
// the pod's, podSC) the container init applies beyond the user: the
// capabilities, the runtime's default set with those sc drops and adds
// (docs/node.md); allowPrivilegeEscalation: false; and the RuntimeDefault
// seccomp profile, asked for by the container or else by the pod. A
// privileged container keeps the node's capabilities and is not
// filtered, as on a cluster. A Localhost profile is refused: the node
// has no profile files, and a kubelet that lacks the file fails the
// container too rather than run it unfiltered.
func containerPrivileges(podSC *corev1.PodSecurityContext, sc *corev1.SecurityContext) (containerinit.Privileges, error) {
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
	var profile *corev1.SeccompProfile
	if podSC != nil {
		profile = podSC.SeccompProfile
	}
	if sc != nil && sc.SeccompProfile != nil {
		profile = sc.SeccompProfile
	}
	if profile != nil && profile.Type == corev1.SeccompProfileTypeLocalhost {
		return containerinit.Privileges{}, fmt.Errorf("seccompProfile Localhost %q: the process node loads no seccomp profile files; use RuntimeDefault, which it applies, or Unconfined", ptr.Deref(profile.LocalhostProfile, ""))
	}
	p.SeccompRuntimeDefault = profile != nil && profile.Type == corev1.SeccompProfileTypeRuntimeDefault
	return p, nil
}

func capabilityNames(caps []corev1.Capability) []string {
	names := make([]string, len(caps))
	for i, c := range caps {
		names[i] = string(c)
	}
	return names
}

package flags

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// The values of kn's --security-context.
const (
	// SecurityContextStrict drops every capability, runs as non-root and
	// allows no privilege escalation.
	SecurityContextStrict = "strict"
	// SecurityContextNone takes back what strict sets.
	SecurityContextNone = "none"
)

// editSecurityContext applies --security-context to container or, when
// it was not given, f.NewSecurityContext to a container without a
// securityContext (a new Service's, as kn does).
func (f *PodFlags) editSecurityContext(container *corev1.Container) error {
	level := strings.ToLower(f.SecurityContext)
	if !f.changed(securityContextFlag) {
		if f.NewSecurityContext == "" || container.SecurityContext != nil {
			return nil
		}
		level = f.NewSecurityContext
	}
	switch level {
	case SecurityContextStrict:
		if container.SecurityContext == nil {
			container.SecurityContext = &corev1.SecurityContext{}
		}
		sc := container.SecurityContext
		sc.AllowPrivilegeEscalation = ptr.To(false)
		sc.RunAsNonRoot = ptr.To(true)
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	case SecurityContextNone:
		if sc := container.SecurityContext; sc != nil {
			// Only what strict sets: a runAsUser or seccomp profile set
			// otherwise stays.
			sc.AllowPrivilegeEscalation, sc.RunAsNonRoot, sc.Capabilities = nil, nil, nil
			if *sc == (corev1.SecurityContext{}) {
				container.SecurityContext = nil
			}
		}
	default:
		return fmt.Errorf("--%s %q: want %s (drop every capability, run as non-root, no privilege escalation) or %s (take those back)",
			securityContextFlag, f.SecurityContext, SecurityContextStrict, SecurityContextNone)
	}
	return nil
}

// securityContextHelp is --security-context's help; newDefault is
// NewSecurityContext.
func securityContextHelp(newDefault string) string {
	help := "security context of the container: " + SecurityContextStrict +
		" drops every capability, runs as non-root and allows no privilege escalation; " + SecurityContextNone + " takes those back"
	if newDefault != "" {
		help += fmt.Sprintf(" (a new Service without one gets %s, as with kn)", newDefault)
	}
	return help
}

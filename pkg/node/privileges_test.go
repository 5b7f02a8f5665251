package node

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/node/containerinit"
)

// TestContainerPrivileges checks what the securityContexts give a
// container: the runtimes' default capabilities, changed by drop and add,
// as containerd and Docker make them, and the RuntimeDefault seccomp
// profile the container or else the pod asks for; a privileged container
// is left alone.
func TestContainerPrivileges(t *testing.T) {
	// As <linux/capability.h> numbers them.
	const (
		chown, dacOverride, fowner, fsetid, kill, setgid, setuid, setpcap = 0, 1, 3, 4, 5, 6, 7, 8
		netBindService, netAdmin, netRaw, sysChroot, sysAdmin, mknod      = 10, 12, 13, 18, 21, 27
		auditWrite, setfcap                                               = 29, 31
	)
	defaults := []int{chown, dacOverride, fowner, fsetid, kill, setgid, setuid, setpcap, netBindService, netRaw, sysChroot, mknod, auditWrite, setfcap}
	limited := func(caps ...int) containerinit.Privileges {
		return containerinit.Privileges{LimitCapabilities: true, Capabilities: append([]int{}, caps...)}
	}
	runtimeDefault := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	filtered := func(p containerinit.Privileges) containerinit.Privileges {
		p.SeccompRuntimeDefault = true
		return p
	}
	tests := []struct {
		name    string
		podSC   *corev1.PodSecurityContext
		sc      *corev1.SecurityContext
		want    containerinit.Privileges
		wantErr string
	}{{
		name: "no securityContext",
		want: limited(defaults...),
	}, {
		name: "no capabilities",
		sc:   &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)},
		want: limited(defaults...),
	}, {
		name: "one added",
		sc:   &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"CAP_NET_ADMIN"}}},
		want: limited(chown, dacOverride, fowner, fsetid, kill, setgid, setuid, setpcap, netBindService, netAdmin, netRaw, sysChroot, mknod, auditWrite, setfcap),
	}, {
		name: "one dropped, in lower case",
		sc:   &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"net_raw"}}},
		want: limited(chown, dacOverride, fowner, fsetid, kill, setgid, setuid, setpcap, netBindService, sysChroot, mknod, auditWrite, setfcap),
	}, {
		name: "all dropped but one, without privilege escalation",
		sc: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}},
		},
		want: containerinit.Privileges{NoNewPrivileges: true, LimitCapabilities: true, Capabilities: []int{netBindService}},
	}, {
		name: "all dropped",
		sc:   &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		want: limited(),
	}, {
		name: "SYS_ADMIN added",
		sc:   &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"SYS_ADMIN"}}},
		want: limited(sysAdmin),
	}, {
		name: "privileged",
		sc:   &corev1.SecurityContext{Privileged: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		want: containerinit.Privileges{},
	}, {
		name:  "the pod's RuntimeDefault seccomp profile",
		podSC: &corev1.PodSecurityContext{SeccompProfile: runtimeDefault},
		want:  filtered(limited(defaults...)),
	}, {
		name: "the container's RuntimeDefault seccomp profile",
		sc:   &corev1.SecurityContext{SeccompProfile: runtimeDefault},
		want: filtered(limited(defaults...)),
	}, {
		name:  "the container's Unconfined over the pod's RuntimeDefault",
		podSC: &corev1.PodSecurityContext{SeccompProfile: runtimeDefault},
		sc:    &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
		want:  limited(defaults...),
	}, {
		name:    "a Localhost profile, which the node cannot load",
		podSC:   &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}},
		wantErr: `seccompProfile Localhost "p.json": the process node loads no seccomp profile files; use RuntimeDefault`,
	}, {
		name:  "privileged, with the pod's RuntimeDefault",
		podSC: &corev1.PodSecurityContext{SeccompProfile: runtimeDefault},
		sc:    &corev1.SecurityContext{Privileged: ptr.To(true)},
		want:  containerinit.Privileges{},
	}, {
		name:    "an unknown capability",
		sc:      &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_MAGIC"}}},
		wantErr: `unknown capability "NET_MAGIC"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := containerPrivileges(tt.podSC, tt.sc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("privileges (-want, +got):\n%s", diff)
			}
		})
	}
}

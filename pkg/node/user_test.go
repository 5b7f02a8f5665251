package node

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestContainerIdentity(t *testing.T) {
	root := &imageUser{uid: 0, gid: 0}
	for _, tc := range []struct {
		name string
		// img is the image's user; nil: an executable image's, nonroot.
		img       *imageUser
		pod       *corev1.PodSecurityContext
		container *corev1.SecurityContext
		want      identity
		wantErr   string
	}{{
		name: "a ko:// image or mapped executable runs as ko's nonroot",
		want: identity{uid: 65532, gid: 65532, home: "/home/nonroot", hasHome: true},
	}, {
		name: "an executable standing for an upstream image that runs as root",
		img:  root,
		want: identity{uid: 0, gid: 0, home: "/root", hasHome: true},
	}, {
		name: "the pod's runAsUser, with the group of a user the image does not list",
		pod:  &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), SupplementalGroups: []int64{5, 6}},
		want: identity{uid: 1000, gid: 0, groups: []int64{5, 6}, home: "/"},
	}, {
		name: "runAsUser names a user the image lists: its group and home",
		img:  root,
		pod:  &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](65534)},
		want: identity{uid: 65534, gid: 65534, home: "/nonexistent"},
	}, {
		name:      "the container's runAsUser and runAsGroup win over the pod's",
		pod:       &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000)},
		container: &corev1.SecurityContext{RunAsUser: ptr.To[int64](2000), RunAsGroup: ptr.To[int64](3000)},
		want:      identity{uid: 2000, gid: 3000, home: "/"},
	}, {
		name:      "runAsGroup alone keeps the image's user",
		container: &corev1.SecurityContext{RunAsGroup: ptr.To[int64](3000)},
		want:      identity{uid: 65532, gid: 3000, home: "/home/nonroot", hasHome: true},
	}, {
		name:      "runAsUser 0 runs as root",
		container: &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)},
		want:      identity{uid: 0, gid: 0, home: "/root", hasHome: true},
	}, {
		name:      "runAsNonRoot passes with the default user",
		container: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)},
		want:      identity{uid: 65532, gid: 65532, home: "/home/nonroot", hasHome: true},
	}, {
		name:    "runAsNonRoot refuses an image that runs as root",
		img:     root,
		pod:     &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
		wantErr: `container has runAsNonRoot and image will run as root (pod: "p_ns(0f9e8d7c-6b5a-4321-8765-43210fedcba9)", container: c0)`,
	}, {
		name:      "runAsNonRoot refuses runAsUser 0",
		pod:       &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](0)},
		container: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)},
		wantErr:   "container's runAsUser breaks non-root policy",
	}, {
		name:      "the container's runAsNonRoot false wins over the pod's",
		img:       root,
		pod:       &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
		container: &corev1.SecurityContext{RunAsNonRoot: ptr.To(false)},
		want:      identity{uid: 0, gid: 0, home: "/root", hasHome: true},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPodSpec(corev1.RestartPolicyAlways, "/bin/app")
			pod.Spec.SecurityContext = tc.pod
			c := &pod.Spec.Containers[0]
			c.SecurityContext = tc.container
			got, err := containerIdentity(pod, c, tc.img, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("containerIdentity() = %+v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(identity{})); diff != "" {
				t.Errorf("containerIdentity() (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestParseImageMapping(t *testing.T) {
	for _, tc := range []struct {
		value    string
		wantExe  string
		wantUser *imageUser
		wantErr  string
	}{
		{value: "/usr/local/bin/app", wantExe: "/usr/local/bin/app"},
		{value: "ko://github.com/nats-io/nats-server/v2 user=0", wantExe: "ko://github.com/nats-io/nats-server/v2", wantUser: &imageUser{uid: 0, gid: 0}},
		{value: " /bin/app\tuser=65532 ", wantExe: "/bin/app", wantUser: &imageUser{uid: 65532, gid: 65532}},
		{value: "/bin/app user=1000", wantExe: "/bin/app", wantUser: &imageUser{uid: 1000, gid: 0}},
		{value: "/bin/app user=1000:2000", wantExe: "/bin/app", wantUser: &imageUser{uid: 1000, gid: 2000}},
		{value: "", wantErr: "no executable"},
		{value: "/bin/app user=root", wantErr: "the user must be a number"},
		{value: "/bin/app user=-1", wantErr: "the user must be a number"},
		{value: "/bin/app user=1:x", wantErr: "the group must be a number"},
		{value: "/bin/app user=1 user=2", wantErr: `"user=2" after the executable`},
		{value: "/bin/app group=2", wantErr: `"group=2" after the executable`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			exe, user, err := parseImageMapping(tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseImageMapping(%q) = %q, %+v, %v; want an error containing %q", tc.value, exe, user, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if exe != tc.wantExe {
				t.Errorf("executable %q, want %q", exe, tc.wantExe)
			}
			if diff := cmp.Diff(tc.wantUser, user, cmp.AllowUnexported(imageUser{})); diff != "" {
				t.Errorf("user (-want, +got):\n%s", diff)
			}
		})
	}
	// ImageMapping writes what parseImageMapping reads.
	for _, user := range []string{"", "0", "1000:2000"} {
		exe, _, err := parseImageMapping(ImageMapping("/bin/app", user))
		if err != nil || exe != "/bin/app" {
			t.Errorf("ImageMapping(/bin/app, %q) reads back as %q, %v", user, exe, err)
		}
	}
}

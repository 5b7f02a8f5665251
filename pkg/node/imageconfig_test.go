package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestContainerArgv holds command and args against the image's Entrypoint
// and Cmd by Kubernetes' rules.
func TestContainerArgv(t *testing.T) {
	image := imageConfig{Entrypoint: []string{"/entry", "-e"}, Cmd: []string{"cmd-arg"}}
	tests := []struct {
		name    string
		cfg     imageConfig
		command []string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "neither: Entrypoint with Cmd", cfg: image, want: []string{"/entry", "-e", "cmd-arg"}},
		{name: "args alone replace Cmd", cfg: image, args: []string{"a1", "a2"}, want: []string{"/entry", "-e", "a1", "a2"}},
		{name: "command drops Entrypoint and Cmd", cfg: image, command: []string{"/bin/other"}, want: []string{"/bin/other"}},
		{name: "command with args", cfg: image, command: []string{"/bin/other"}, args: []string{"x"}, want: []string{"/bin/other", "x"}},
		{name: "Cmd alone", cfg: imageConfig{Cmd: []string{"/cmd", "y"}}, want: []string{"/cmd", "y"}},
		{name: "args with no Entrypoint", cfg: imageConfig{Cmd: []string{"/cmd"}}, args: []string{"/run", "z"}, want: []string{"/run", "z"}},
		{name: "nothing to run", cfg: imageConfig{}, wantErr: "no command specified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := containerArgv(tc.cfg, tc.command, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("containerArgv() = %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("argv (-want, +got):\n%s", diff)
			}
		})
	}
}

// TestMergeEnv: the image's variables first, the container's replacing
// them by name, PATH defaulted.
func TestMergeEnv(t *testing.T) {
	tests := []struct {
		name             string
		image, container []string
		want             []string
	}{
		{
			name:      "container overrides by name, in the image's place",
			image:     []string{"PATH=/image/bin", "A=image", "B=image"},
			container: []string{"B=container", "C=container"},
			want:      []string{"PATH=/image/bin", "A=image", "B=container", "C=container"},
		},
		{
			name:      "PATH from the runtime when neither sets it",
			container: []string{"X=1"},
			want:      []string{"X=1", "PATH=" + defaultPath},
		},
		{
			name:      "the container's PATH wins",
			image:     []string{"PATH=/image/bin"},
			container: []string{"PATH=/mine"},
			want:      []string{"PATH=/mine"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, mergeEnv(tc.image, tc.container)); diff != "" {
				t.Errorf("env (-want, +got):\n%s", diff)
			}
		})
	}
}

// TestWithoutDefaultPath: the node's default PATH gives way to the
// image's, a PATH the container sets does not.
func TestWithoutDefaultPath(t *testing.T) {
	env := []string{"PATH=" + defaultPath, "HOSTNAME=p"}
	got := mergeEnv([]string{"PATH=/image/bin"}, withoutDefaultPath(env, &corev1.Container{}))
	if diff := cmp.Diff([]string{"PATH=/image/bin", "HOSTNAME=p"}, got); diff != "" {
		t.Errorf("env (-want, +got):\n%s", diff)
	}
	mine := &corev1.Container{Env: []corev1.EnvVar{{Name: "PATH", Value: defaultPath}}}
	got = mergeEnv([]string{"PATH=/image/bin"}, withoutDefaultPath(env, mine))
	if diff := cmp.Diff([]string{"PATH=" + defaultPath, "HOSTNAME=p"}, got); diff != "" {
		t.Errorf("with the container's PATH, env (-want, +got):\n%s", diff)
	}
}

func TestContainerWorkingDir(t *testing.T) {
	for _, tc := range []struct{ spec, image, want string }{
		{"", "", "/"}, {"", "/srv", "/srv"}, {"/mine", "/srv", "/mine"},
	} {
		if got := containerWorkingDir(tc.spec, imageConfig{WorkingDir: tc.image}); got != tc.want {
			t.Errorf("containerWorkingDir(%q, image %q) = %q, want %q", tc.spec, tc.image, got, tc.want)
		}
	}
}

// TestImageIdentity settles who a container of a registry image runs as:
// the image's User (by name or number, looked up in its /etc/passwd and
// /etc/group), unless runAsUser or runAsGroup say otherwise, and
// runAsNonRoot's refusals with the kubelet's messages.
func TestImageIdentity(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// /etc/group through a symbolic link, as some images have it.
	files := map[string]string{
		"etc/passwd":     "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n# comment\nweb:x:33:33::/var/www:/bin/false\n",
		"etc/group.real": "root:x:0:\napp:x:1001:\nstaff:x:50:app,web\nextra:x:60:app\n",
	}
	for p, body := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/group.real", filepath.Join(root, "etc/group")); err != nil {
		t.Fatal(err)
	}
	users, err := readImageUsers(root)
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}}
	tests := []struct {
		name      string
		imageUser string
		sc        *corev1.SecurityContext
		want      identity
		wantErr   string
	}{
		{name: "no User is root", want: identity{uid: 0, gid: 0, home: "/root", hasHome: true}},
		{name: "a name, with its passwd group and member groups", imageUser: "app", want: identity{uid: 1000, gid: 1001, groups: []int64{50, 60}, home: "/home/app", hasHome: true}},
		{name: "a uid", imageUser: "33", want: identity{uid: 33, gid: 33, groups: []int64{50}, home: "/var/www", hasHome: true}},
		{name: "uid:group name", imageUser: "1000:staff", want: identity{uid: 1000, gid: 50, groups: []int64{50, 60}, home: "/home/app", hasHome: true}},
		{name: "name:gid", imageUser: "app:7", want: identity{uid: 1000, gid: 7, groups: []int64{50, 60}, home: "/home/app", hasHome: true}},
		{name: "a uid the image does not list", imageUser: "4242", want: identity{uid: 4242, gid: 0, home: "/"}},
		{name: "runAsUser over the image's", imageUser: "app", sc: &corev1.SecurityContext{RunAsUser: ptr.To[int64](33)}, want: identity{uid: 33, gid: 33, groups: []int64{50}, home: "/var/www", hasHome: true}},
		{name: "runAsGroup over the image's", imageUser: "app", sc: &corev1.SecurityContext{RunAsGroup: ptr.To[int64](9)}, want: identity{uid: 1000, gid: 9, groups: []int64{50, 60}, home: "/home/app", hasHome: true}},
		{name: "an unknown name", imageUser: "nobody-here", wantErr: `the image's user "nobody-here" is not in its /etc/passwd`},
		{name: "an unknown group", imageUser: "app:nogroup", wantErr: `the image's group "nogroup" is not in its /etc/group`},
		{
			name: "runAsNonRoot refuses a root image", sc: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)},
			wantErr: `container has runAsNonRoot and image will run as root (pod: "p_ns(u)", container: c)`,
		},
		{
			name: "runAsNonRoot refuses a user named by name", imageUser: "app", sc: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)},
			wantErr: `container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root`,
		},
		{name: "runAsNonRoot takes a numeric user", imageUser: "1000", sc: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)}, want: identity{uid: 1000, gid: 1001, groups: []int64{50, 60}, home: "/home/app", hasHome: true}},
		{
			name: "runAsNonRoot with runAsUser 0", imageUser: "1000", sc: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](0)},
			wantErr: "container's runAsUser breaks non-root policy",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := imageIdentity(pod, &corev1.Container{Name: "c", SecurityContext: tc.sc}, tc.imageUser, users)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("identity = %+v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(identity{})); diff != "" {
				t.Errorf("identity (-want, +got):\n%s", diff)
			}
		})
	}
}

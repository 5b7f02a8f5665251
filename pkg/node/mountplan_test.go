package node

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/node/containerinit"
)

func TestRootPlanFor(t *testing.T) {
	dir := t.TempDir()
	emptyDir := filepath.Join(dir, "volumes", "scratch")
	cmDir := filepath.Join(dir, "volumes", "cm")
	if err := os.MkdirAll(emptyDir, 0o777); err != nil {
		t.Fatal(err)
	}
	// World-writable, as the node makes an emptyDir.
	if err := os.Chmod(emptyDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := writeAtomic(cmDir, map[string]projectedFile{"a": {data: []byte("1"), mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	fsys := &podFS{
		rootDir: filepath.Join(dir, "root"), tmpDir: filepath.Join(dir, "tmp"), etcDir: filepath.Join(dir, "etc"),
		hideDir: "/var/lib/flywheel",
		volumes: map[string]volumeDir{"scratch": {path: emptyDir, writable: true}, "cm": {path: cmDir}},
	}
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "cm", MountPath: "/data/cm/"},
		{Name: "scratch", MountPath: "/data"},
		{Name: "scratch", MountPath: "/ro", ReadOnly: true},
		{Name: "cm", MountPath: "/opt/a", SubPath: "a"},
		{Name: "scratch", MountPath: "/cache", SubPath: "made/here"},
		{Name: "pvc", MountPath: "/claim"},
	}}
	home := homeDir{path: "/home/nonroot", source: filepath.Join(dir, "homes", "c")}
	plan, err := rootPlanFor(fsys, c, "/images/sha256-abc", "server", home)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Dir != fsys.rootDir {
		t.Errorf("root at %s, want %s", plan.Dir, fsys.rootDir)
	}
	var got []string
	for _, op := range plan.Ops {
		s := string(op.Kind) + " " + op.Target
		if op.Source != "" {
			s += " <- " + strings.TrimPrefix(op.Source, dir)
		}
		for _, flag := range []struct {
			set  bool
			name string
		}{{op.File, "file"}, {op.ReadOnly, "ro"}, {op.Writable, "rw"}, {op.BestEffort, "best-effort"}} {
			if flag.set {
				s += " " + flag.name
			}
		}
		got = append(got, s)
	}
	want := []string{
		"mirror /",
		"tmpfs /dev",
		"bind /dev/null <- /dev/null file",
		"bind /dev/zero <- /dev/zero file",
		"bind /dev/full <- /dev/full file",
		"bind /dev/random <- /dev/random file",
		"bind /dev/urandom <- /dev/urandom file",
		"bind /dev/tty <- /dev/tty file",
		"devpts /dev/pts best-effort",
		"symlink /dev/ptmx <- pts/ptmx",
		"tmpfs /dev/shm",
		"symlink /dev/fd <- /proc/self/fd",
		"symlink /dev/stdin <- /proc/self/fd/0",
		"symlink /dev/stdout <- /proc/self/fd/1",
		"symlink /dev/stderr <- /proc/self/fd/2",
		"bind /tmp <- /tmp rw",
		"mirror /etc",
		"bind /etc/hosts <- /etc/hosts file",
		"bind /etc/resolv.conf <- /etc/resolv.conf file",
		"bind /etc/hostname <- /etc/hostname file",
		"readOnly /proc/sys",
		"readOnly /sys",
		"bind /ko-app/server <- /images/sha256-abc file ro",
		"tmpfs /var/lib/flywheel ro",
		"bind /home/nonroot <- /homes/c rw",
		// Parents first; API data volumes read-only; a subPath through
		// the volume's links is its file; a missing subPath of an
		// emptyDir is made.
		"bind /data <- /volumes/scratch rw",
		"bind /ro <- /volumes/scratch ro",
		"bind /cache <- /volumes/scratch/made/here rw",
		"bind /data/cm <- /volumes/cm ro",
		"bind /opt/a <- /volumes/cm/" + mustReadlink(t, filepath.Join(cmDir, dataLink)) + "/a file ro",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want, +got):\n%s", diff)
	}
	fsys.cgroupNS = true
	withCgroup, err := rootPlanFor(fsys, &corev1.Container{}, "", "", homeDir{})
	if err != nil {
		t.Fatal(err)
	}
	// The container's cgroups, as the host lays them out
	// (TestCgroupViewOps), come after /sys is made read-only.
	view := hostCgroups().viewOps("/sys/fs/cgroup")
	sys := slices.IndexFunc(withCgroup.Ops, func(op containerinit.MountOp) bool {
		return op.Kind == containerinit.OpReadOnly && op.Target == "/sys"
	})
	if after := withCgroup.Ops[sys+1:]; len(after) < len(view) || !cmp.Equal(view, after[:len(view)]) {
		t.Errorf("with a cgroup namespace, the ops after /sys are %+v, want %+v first", after, view)
	}
	// The emptyDir's subPath is made as writable as the emptyDir, for
	// a container of any user.
	for _, p := range []string{"made", "made/here"} {
		st, err := os.Stat(filepath.Join(emptyDir, p))
		if err != nil {
			t.Errorf("the emptyDir's subPath was not made: %v", err)
		} else if !st.IsDir() || st.Mode().Perm() != 0o777 {
			t.Errorf("the emptyDir's subPath %s has mode %v, want a directory with mode 0777", p, st.Mode())
		}
	}
}

func mustReadlink(t *testing.T, p string) string {
	t.Helper()
	l, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRootPlanForRefuses(t *testing.T) {
	dir := t.TempDir()
	vol := filepath.Join(dir, "vol")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(vol, "escape")); err != nil {
		t.Fatal(err)
	}
	fsys := &podFS{volumes: map[string]volumeDir{"v": {path: vol}}}
	for _, tc := range []struct {
		name  string
		mount corev1.VolumeMount
		want  string
	}{
		{"a relative mountPath", corev1.VolumeMount{Name: "v", MountPath: "data"}, `mountPath "data" is not absolute`},
		{"a subPath with ..", corev1.VolumeMount{Name: "v", MountPath: "/d", SubPath: "../x"}, "without \"..\""},
		{"a subPath leading out through a link", corev1.VolumeMount{Name: "v", MountPath: "/d", SubPath: "escape"}, "leads out of the volume"},
		{"a missing subPath of a read-only volume", corev1.VolumeMount{Name: "v", MountPath: "/d", SubPath: "nothing"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rootPlanFor(fsys, &corev1.Container{VolumeMounts: []corev1.VolumeMount{tc.mount}}, "", "", homeDir{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("rootPlanFor() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestKoAppName(t *testing.T) {
	for img, want := range map[string]string{
		"ko://flywheel.dev/cmd/queue":            "queue",
		"ko://flywheel.dev/cmd/queue@sha256:abc": "queue",
		"/usr/local/bin/server":                  "server",
	} {
		if got := koAppName(img, img); got != want {
			t.Errorf("koAppName(%q) = %q, want %q", img, got, want)
		}
	}
}

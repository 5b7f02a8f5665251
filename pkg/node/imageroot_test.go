package node

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/node/containerinit"
	"flywheel.dev/pkg/node/imagetest"
)

// TestContainerInitImageRoot runs a shell from an image root filesystem
// (the host's /bin/sh and its libraries, unpacked from a layer made here)
// through the container init: the container sees the image's files, the
// pod's /etc files, /tmp, /dev, /proc and volume, none of the host's
// other files, and its writes land in its own layer, not the image's.
func TestContainerInitImageRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the container init needs root for mount namespaces and overlayfs")
	}
	entries := []imagetest.Entry{imagetest.File("image-file", "from the image\n")}
	for _, p := range append([]string{"/bin/sh"}, sharedLibraries(t, "/bin/sh")...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		e := imagetest.File(strings.TrimPrefix(p, "/"), string(b))
		e.Mode = 0o755
		entries = append(entries, e)
	}
	lower := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(lower, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unpackLayer(lower, bytes.NewReader(imagetest.Tar(entries...)), "test"); err != nil {
		t.Fatal(err)
	}
	fsys := testPodFS(t)
	layer := t.TempDir()
	overlay := containerinit.Overlay{Lower: lower, Upper: filepath.Join(layer, "upper"), Work: filepath.Join(layer, "work")}
	for _, d := range []string{overlay.Upper, overlay.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/data"}}}
	plan, err := imageRootPlanFor(fsys, c, overlay)
	if err != nil {
		t.Fatal(err)
	}
	// Shell builtins only: the image has nothing else.
	script := strings.Join([]string{
		"read line < /image-file; echo $line",
		"read line < /etc/hostname; echo $line",
		"[ -e /usr/bin ] || echo no host /usr/bin",
		"[ -c /dev/null ] && echo /dev/null",
		"[ -e /proc/self/status ] && echo /proc",
		"echo x > /tmp/t && echo /tmp writable",
		"echo x > /data/v && echo volume writable",
		"echo written > /new-file && echo root writable",
		"pwd",
	}, "; ")
	out, code := run(t, processSpec{
		path: "/bin/sh", args: []string{"sh", "-c", script}, env: []string{"PATH=/bin"}, dir: "/tmp",
		root: plan, hostname: "pod-i",
	})
	want := "from the image\npod's hostname\nno host /usr/bin\n/dev/null\n/proc\n/tmp writable\nvolume writable\nroot writable\n/tmp\n"
	if diff := cmp.Diff(want, out); diff != "" || code != 0 {
		t.Errorf("exit code %d, output (-want, +got):\n%s", code, diff)
	}
	if _, err := os.Stat(filepath.Join(lower, "new-file")); err == nil {
		t.Error("the container's write reached the image's root filesystem")
	}
	if b, err := os.ReadFile(filepath.Join(overlay.Upper, "new-file")); err != nil || string(b) != "written\n" {
		t.Errorf("the container's layer holds %q, %v; want its write", b, err)
	}
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mountinfo), fsys.rootDir) {
		t.Errorf("a mount of the container is on the host:\n%s", mountinfo)
	}
}

// sharedLibraries are the absolute paths of the libraries exe loads, as
// ldd lists them.
func sharedLibraries(t *testing.T, exe string) []string {
	t.Helper()
	out, err := exec.Command("ldd", exe).Output()
	if err != nil {
		t.Skipf("ldd %s: %v", exe, err)
	}
	var libs []string
	for _, m := range regexp.MustCompile(`(/[^\s]+) \(0x`).FindAllStringSubmatch(string(out), -1) {
		libs = append(libs, m[1])
	}
	return libs
}

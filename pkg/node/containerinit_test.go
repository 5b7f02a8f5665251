package node

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// testPodFS makes a pod's directory as podFilesystem would, with one
// emptyDir volume "scratch", for tests of the container init.
func testPodFS(t *testing.T) *podFS {
	t.Helper()
	dir := t.TempDir()
	fsys := &podFS{
		rootDir: filepath.Join(dir, "root"), tmpDir: filepath.Join(dir, "tmp"), etcDir: filepath.Join(dir, "etc"),
		homesDir: filepath.Join(dir, "homes"),
		volumes:  map[string]volumeDir{"scratch": {path: filepath.Join(dir, "scratch"), writable: true}},
	}
	for _, d := range []string{fsys.rootDir, fsys.tmpDir, fsys.etcDir, fsys.volumes["scratch"].path} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(fsys.tmpDir, fs.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	// World-writable, as the node makes an emptyDir.
	if err := os.Chmod(fsys.volumes["scratch"].path, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, f := range etcFiles {
		if err := os.WriteFile(filepath.Join(fsys.etcDir, f), []byte("pod's "+f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fsys
}

// run starts spec through the container init and returns its output once
// it exited.
func run(t *testing.T, spec processSpec) (string, int) {
	t.Helper()
	var out bytes.Buffer
	spec.stdout, spec.stderr = &out, &out
	p, err := execRunner{}.start(spec)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done():
	case <-time.After(20 * time.Second):
		_ = p.signal(syscall.SIGKILL)
		t.Fatal("the process did not exit")
	}
	return out.String(), p.exitCode()
}

// TestContainerInit starts real processes through the container init: it
// needs root (mount and UTS namespaces) and skips without.
func TestContainerInit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the container init needs root for mount and UTS namespaces")
	}
	fsys := testPodFS(t)
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/var/run/secrets/example"}}}
	plan, err := rootPlanFor(fsys, c, "/bin/sh", "sh", homeDir{})
	if err != nil {
		t.Fatal(err)
	}
	nobody := int64(65534)
	script := strings.Join([]string{
		"id -u", "hostname", "ls /dev | tr '\\n' ' '; echo", "stat -c %a /tmp", "cat /etc/hostname /etc/hosts",
		"ls /ko-app", "touch /var/run/secrets/example/f && echo volume writable",
		"echo x 2>/dev/null > /proc/sys/kernel/hostname || echo /proc/sys read-only",
		"read line || echo stdin at EOF", "pwd",
	}, "; ")
	t.Run("a container's filesystem, hostname, user and stdin", func(t *testing.T) {
		out, code := run(t, processSpec{
			path: "/ko-app/sh", exe: "/bin/sh", args: []string{"/ko-app/sh", "-c", script},
			env: []string{"PATH=/usr/bin:/bin"}, dir: "/var", uid: &nobody, gid: &nobody,
			root: plan, hostname: "pod-a",
		})
		want := "65534\npod-a\nfd full null ptmx pts random shm stderr stdin stdout tty urandom zero \n1777\n" +
			"pod's hostname\npod's hosts\nsh\nvolume writable\n/proc/sys read-only\nstdin at EOF\n/var\n"
		if diff := cmp.Diff(want, out); diff != "" || code != 0 {
			t.Errorf("exit code %d, output (-want, +got):\n%s", code, diff)
		}
		if _, err := os.Stat(filepath.Join(fsys.volumes["scratch"].path, "f")); err != nil {
			t.Errorf("the file written through the volume mount is not in the volume: %v", err)
		}
	})

	t.Run("an exec in a running container sees its filesystem and hostname", func(t *testing.T) {
		var out bytes.Buffer
		main, err := execRunner{}.start(processSpec{
			path: "/ko-app/sh", exe: "/bin/sh", args: []string{"/ko-app/sh", "-c", "sleep 30"},
			env: []string{"PATH=/usr/bin:/bin"}, root: plan, hostname: "pod-b", stdout: &out, stderr: &out,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = main.signal(syscall.SIGKILL); <-main.done() }()
		got, code := run(t, processSpec{
			path: "sh", args: []string{"sh", "-c", "hostname; ls /ko-app; cat /etc/hostname"},
			env: []string{"PATH=/usr/bin:/bin"}, enterPID: main.pid(),
		})
		if want := "pod-b\nsh\npod's hostname\n"; got != want || code != 0 {
			t.Errorf("exec: exit code %d, output %q, want %q", code, got, want)
		}
	})

	t.Run("a command not in PATH fails to start", func(t *testing.T) {
		_, err := execRunner{}.start(processSpec{
			path: "no-such-command", args: []string{"no-such-command"},
			env: []string{"PATH=/usr/bin:/bin"}, root: plan, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{},
		})
		if err == nil || !strings.Contains(err.Error(), "executable file not found") {
			t.Errorf("start() error = %v, want executable file not found", err)
		}
	})

	// Every mount lived in the processes' own namespaces.
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mountinfo), fsys.rootDir) {
		t.Errorf("a mount of the container is on the host:\n%s", mountinfo)
	}
}

// TestContainerInitDropsNamespaceFiles checks that a container holds no
// copy of the host's named network namespaces: it would keep them alive
// after the node deletes them.
func TestContainerInitDropsNamespaceFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the container init needs root for mount namespaces")
	}
	fsys := testPodFS(t)
	plan, err := rootPlanFor(fsys, &corev1.Container{}, "", "", homeDir{})
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("fwunit-%d", os.Getpid())
	ns, err := newNamedNetns(name)
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
	defer func() { _ = netns.DeleteNamed(name) }()
	out, code := run(t, processSpec{
		path: "/bin/sh", args: []string{"sh", "-c", "grep -c ' - nsfs ' /proc/self/mountinfo || true"},
		env: []string{"PATH=/usr/bin:/bin"}, root: plan,
	})
	if out != "0\n" || code != 0 {
		t.Errorf("namespace files mounted in the container: %q (exit code %d), want 0", out, code)
	}
}

// TestContainerRunsAsItsUser starts a container of a pod through the
// container init, as the node does, and checks who it runs as: an
// executable image runs as ko's nonroot, with HOME its own writable,
// empty directory, where a ko image's user would be on a cluster.
func TestContainerRunsAsItsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the container init needs root to change users and build a mount namespace")
	}
	pod := testPodSpec(corev1.RestartPolicyNever, "/bin/sh")
	pod.Spec.Containers[0].Command = []string{"/bin/sh", "-c", strings.Join([]string{
		"id -u", "id -g", "id -G", "echo $HOME", "pwd", "stat -c %a $HOME", "ls -A $HOME", "touch $HOME/f && echo home writable",
	}, "; ")}
	f := newPodFixture(t, pod)
	f.rt.deps.runner = execRunner{}
	f.rt.fs = testPodFS(t)
	f.rt.start()
	got := f.waitFor("Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	out, err := os.ReadFile(filepath.Join(f.rt.logDir, "c0", "0.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := "65532\n65532\n65532\n/home/nonroot\n/\n700\nhome writable\n"
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("the container's output (-want, +got):\n%s\nstatus: %+v", diff, got.Status.ContainerStatuses)
	}
}

// TestContainerKeepsToItsPrivileges starts containers of a pod as the
// node does and reads their capabilities and no_new_privs from the
// kernel: root dropping ALL but NET_BIND_SERVICE without privilege
// escalation (secure-pod-defaults' root-allowed on a port below 1024);
// root setting no capabilities, which has the runtimes' default set, or
// adding one to it; and a privileged container, which keeps the node's.
func TestContainerKeepsToItsPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the container init needs root to change capabilities and build a mount namespace")
	}
	status := []string{"/bin/sh", "-c", "grep -E '^(CapInh|CapBnd|CapEff|NoNewPrivs):' /proc/self/status | tr -s '\\t' ' '"}
	pod := testPodSpec(corev1.RestartPolicyNever, "/bin/sh")
	limited := pod.Spec.Containers[0]
	limited.Command = status
	limited.SecurityContext = &corev1.SecurityContext{
		RunAsUser:                ptr.To[int64](0),
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}},
	}
	pod.Spec.Containers = []corev1.Container{
		limited,
		asRoot(limited, "c1", corev1.SecurityContext{}),
		asRoot(limited, "c2", corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}),
		asRoot(limited, "c3", corev1.SecurityContext{Privileged: ptr.To(true)}),
	}
	f := newPodFixture(t, pod)
	f.rt.deps.runner = execRunner{}
	f.rt.fs = testPodFS(t)
	f.rt.start()
	got := f.waitFor("Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	read := func(container string) string {
		out, err := os.ReadFile(filepath.Join(f.rt.logDir, container, "0.log"))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	// Bit 10 is CAP_NET_BIND_SERVICE.
	want := "CapInh: 0000000000000000\nCapEff: 0000000000000400\nCapBnd: 0000000000000400\nNoNewPrivs: 1\n"
	if diff := cmp.Diff(want, read("c0")); diff != "" {
		t.Errorf("the limited container's privileges (-want, +got):\n%s\nstatus: %+v", diff, got.Status.ContainerStatuses)
	}
	node, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	nodeField := func(name string) string {
		return regexp.MustCompile(name + `:\s*(\S+)`).FindStringSubmatch(string(node))[1]
	}
	// a80425fb is the runtimes' default set (DefaultCapabilities), as
	// `docker run` shows it; bit 12 is CAP_NET_ADMIN. A privileged
	// container has what the node has.
	for _, tt := range []struct{ container, what, inheritable, bounding string }{
		{"c1", "a root container that sets no capabilities", "0000000000000000", "00000000a80425fb"},
		{"c2", "a root container that adds NET_ADMIN", "0000000000000000", "00000000a80435fb"},
		{"c3", "a privileged container", nodeField("CapInh"), nodeField("CapBnd")},
	} {
		want := "CapInh: " + tt.inheritable + "\nCapEff: " + tt.bounding + "\nCapBnd: " + tt.bounding + "\nNoNewPrivs: 0\n"
		if diff := cmp.Diff(want, read(tt.container)); diff != "" {
			t.Errorf("%s (-want, +got):\n%s", tt.what, diff)
		}
	}
}

// TestContainerRunsUnderItsSeccompProfile starts root containers of a pod
// as the node does, each of which reports its seccomp mode and tries to
// make a user namespace, which the RuntimeDefault profile refuses unless
// the container keeps CAP_SYS_ADMIN: the pod's profile applies to a
// container that names none, not to one that says Unconfined.
func TestContainerRunsUnderItsSeccompProfile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the container init needs root to change capabilities and build a mount namespace")
	}
	pod := testPodSpec(corev1.RestartPolicyNever, "/bin/sh")
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	try := pod.Spec.Containers[0]
	try.Command = []string{"/bin/sh", "-c", "grep '^Seccomp:' /proc/self/status | tr -s '\\t' ' '; if unshare -U true 2>/dev/null; then echo unshare: made; else echo unshare: refused; fi"}
	pod.Spec.Containers = []corev1.Container{
		asRoot(try, "c0", corev1.SecurityContext{}),
		asRoot(try, "c1", corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}),
		asRoot(try, "c2", corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}),
	}
	f := newPodFixture(t, pod)
	f.rt.deps.runner = execRunner{}
	f.rt.fs = testPodFS(t)
	f.rt.start()
	got := f.waitFor("Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	for _, tt := range []struct{ container, what, want string }{
		{"c0", "the pod's RuntimeDefault", "Seccomp: 2\nunshare: refused\n"},
		{"c1", "Unconfined over the pod's RuntimeDefault", "Seccomp: 0\nunshare: made\n"},
		{"c2", "RuntimeDefault with CAP_SYS_ADMIN added", "Seccomp: 2\nunshare: made\n"},
	} {
		out, err := os.ReadFile(filepath.Join(f.rt.logDir, tt.container, "0.log"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, string(out)); diff != "" {
			t.Errorf("%s (-want, +got):\n%s\nstatus: %+v", tt.what, diff, got.Status.ContainerStatuses)
		}
	}
}

// asRoot is base named name, running as root with the rest of sc.
func asRoot(base corev1.Container, name string, sc corev1.SecurityContext) corev1.Container {
	c := *base.DeepCopy()
	c.Name = name
	sc.RunAsUser = ptr.To[int64](0)
	c.SecurityContext = &sc
	return c
}

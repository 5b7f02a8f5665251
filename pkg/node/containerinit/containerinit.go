package containerinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Arg0 is the argv[0] under which the node's own executable,
// re-executed, becomes the container init: the step between the node and
// a container's process that sets up what a Go program with many threads
// cannot do for its child (a mount namespace of its own with the pod's
// mounts, the hostname), drops privileges and execs the container's
// command.
const Arg0 = "flywheel-container-init"

// The container init reads its Spec from specFD and reports a failure
// before exec on statusFD, which closes on a successful exec.
const (
	specFD   = 3
	statusFD = 4
)

// Spec is what the container init does, sent as JSON by the node.
type Spec struct {
	// Args is argv; Args[0] is what the process sees as its name.
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
	// Exe is an executable on the host, opened before the mounts hide it,
	// and run: the container's image. Empty: Path is run, as found inside
	// the container.
	Exe  string `json:"exe,omitempty"`
	Path string `json:"path,omitempty"`

	UID    *int64  `json:"uid,omitempty"`
	GID    *int64  `json:"gid,omitempty"`
	Groups []int64 `json:"groups,omitempty"`
	// Privileges limit what the process may gain beyond its user.
	Privileges Privileges `json:"privileges,omitzero"`

	// Hostname is set in the UTS namespace the node cloned for the
	// process; empty: the host's namespace is kept.
	Hostname string `json:"hostname,omitempty"`
	// Root is the container's filesystem, built in the mount namespace
	// the node cloned for the process; nil keeps the host's.
	Root *RootPlan `json:"root,omitempty"`
	// CgroupNS asks for a cgroup namespace of the process's own, rooted
	// at the cgroups the node placed it in before sending this spec, for
	// Root's cgroup mounts to show.
	CgroupNS bool `json:"cgroupNS,omitempty"`
	// EnterPID joins the mount and UTS namespaces of that (container)
	// process instead: exec probes and hooks see what the container sees.
	EnterPID int `json:"enterPID,omitempty"`
}

func init() {
	// Every binary that runs a node (cmd binaries, test binaries) imports
	// this package, through package node; hooking here means none of them
	// can forget to. It runs before the binary's other packages are
	// initialized only because this package imports nothing but the
	// standard library and x/sys/unix: a package's init waits for those
	// of its imports, and in a binary as large as fw or a test binary,
	// client-go's and the API groups' take ~100 ms, on every container
	// start, where a cold start waits for them.
	MaybeRun()
}

// MaybeRun runs the container init and never returns when the
// process was started as one; otherwise it returns at once. The package
// calls it when it is initialized, so a binary need not.
func MaybeRun() {
	if len(os.Args) == 0 || os.Args[0] != Arg0 {
		return
	}
	status := os.NewFile(statusFD, "status")
	err := runContainerInit()
	// Only reached when exec failed or was never tried.
	fmt.Fprint(status, err)
	os.Exit(127)
}

func runContainerInit() error {
	// The status pipe must close when exec succeeds.
	unix.CloseOnExec(statusFD)
	f := os.NewFile(specFD, "spec")
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading the container spec: %w", err)
	}
	var spec Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("reading the container spec: %w", err)
	}
	// From here on the thread's namespaces and credentials are what the
	// exec'd program gets: stay on it.
	runtime.LockOSThread()

	exe := -1
	if spec.Exe != "" {
		if exe, err = unix.Open(spec.Exe, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("opening the image's executable %s: %w", spec.Exe, err)
		}
	}
	if spec.CgroupNS && spec.EnterPID == 0 {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("making the container's cgroup namespace: %w", err)
		}
	}
	switch {
	case spec.EnterPID > 0:
		if err := enterNamespaces(spec.EnterPID); err != nil {
			return err
		}
	case spec.Root != nil:
		if err := buildRoot(spec.Root); err != nil {
			return fmt.Errorf("building the container's filesystem: %w", err)
		}
	}
	if spec.Hostname != "" && spec.EnterPID == 0 {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("setting the hostname %q: %w", spec.Hostname, err)
		}
	}
	// The bounding set shrinks while this thread still has CAP_SETPCAP,
	// before it changes user.
	if err := limitCapabilities(spec.Privileges); err != nil {
		return err
	}
	if err := applySeccomp(spec.Privileges); err != nil {
		return err
	}
	if err := dropPrivileges(spec); err != nil {
		return err
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("workingDir %s: %w", dir, err)
	}
	path := spec.Path
	if exe >= 0 {
		// The image may sit where the container's mounts hide it (a
		// private /tmp): run it through the descriptor opened before.
		path = fmt.Sprintf("/proc/self/fd/%d", exe)
	} else if !strings.Contains(path, "/") {
		if path, err = lookPath(path, LookupEnv(spec.Env, "PATH")); err != nil {
			return err
		}
	}
	if spec.Privileges.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("allowPrivilegeEscalation: false: %w", err)
		}
	}
	err = syscall.Exec(path, spec.Args, spec.Env)
	return fmt.Errorf("exec %s: %w", spec.Args[0], err)
}

// enterNamespaces moves this thread into the mount, UTS and cgroup
// namespaces of pid. Joining a mount namespace needs a thread whose filesystem
// attributes no other thread shares, so they are unshared first; exec
// then makes this thread the process.
func enterNamespaces(pid int) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unsharing filesystem attributes: %w", err)
	}
	for _, ns := range []struct {
		name string
		kind int
	}{{"cgroup", unix.CLONE_NEWCGROUP}, {"mnt", unix.CLONE_NEWNS}, {"uts", unix.CLONE_NEWUTS}} {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns.name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("the container's process %d is gone: %w", pid, err)
		}
		err = unix.Setns(fd, ns.kind)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("entering the %s namespace of process %d: %w", ns.name, pid, err)
		}
	}
	return nil
}

// dropPrivileges switches to runAsUser/runAsGroup/supplementalGroups.
// Changing credentials clears the parent-death signal, so it is set again:
// a crashed node still takes its containers along.
func dropPrivileges(spec Spec) error {
	if spec.UID == nil && spec.GID == nil {
		return nil
	}
	groups := make([]int, 0, len(spec.Groups))
	for _, g := range spec.Groups {
		groups = append(groups, int(g))
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("supplementalGroups: %w", err)
	}
	// Without runAsGroup a container runtime uses the image's group for
	// the user, which is root's for an image with no /etc/passwd.
	gid := 0
	if spec.GID != nil {
		gid = int(*spec.GID)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("runAsGroup %d: %w", gid, err)
	}
	if spec.UID != nil {
		uid := int(*spec.UID)
		if err := syscall.Setresuid(uid, uid, uid); err != nil {
			return fmt.Errorf("runAsUser %d: %w", uid, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return err
	}
	if os.Getppid() == 1 {
		return errors.New("the node exited while the container started")
	}
	return nil
}

// lookPath finds name in the container's PATH, as a runtime does inside
// the container's filesystem.
func lookPath(name, envPath string) (string, error) {
	for dir := range strings.SplitSeq(envPath, ":") {
		if dir == "" {
			continue
		}
		p := dir + "/" + name
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// LookupEnv finds a variable in a KEY=VALUE list.
func LookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// Under reports whether p is dir or inside it.
func Under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

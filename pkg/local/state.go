package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"flywheel.dev/pkg/controlplane"
)

// StateFileName is the file, in the work directory, that says a Flywheel
// runs there: who runs it, what it started and where it listens. Up
// writes it before it makes each thing and Stop removes it last, so that
// after a crash Down finds everything that was left.
const StateFileName = "state.json"

// State is what StateFileName holds.
type State struct {
	// Owner is the process that brought Flywheel up (`fw local up`, or a
	// test binary); the in-process components run in it.
	Owner Process `json:"owner"`
	// Ready is set once everything is up; until then Flywheel is starting.
	Ready bool `json:"ready"`
	// Started is when Up began.
	Started time.Time `json:"started"`
	// WorkDir holds the components' logs, their binaries and the node's
	// state.
	WorkDir string `json:"workDir"`
	// Kubeconfig is an admin kubeconfig of the API server.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// APIServer is the API server's URL.
	APIServer string `json:"apiServer,omitempty"`
	// ControlPlaneTempDir is the control plane's data directory when Up
	// had it made in the temporary directory: Stop removes it, so Down
	// does after a crash.
	ControlPlaneTempDir string `json:"controlPlaneTempDir,omitempty"`
	// GatewayAddress is where the external Gateway listens.
	GatewayAddress string `json:"gatewayAddress,omitempty"`
	// NodeDataDir is the process node's data directory (node.Sweep).
	NodeDataDir string `json:"nodeDataDir,omitempty"`
	// KubeProxy is the kube-proxy executable whose --cleanup removes what
	// it programmed on the host, once the node is gone.
	KubeProxy string `json:"kubeProxy,omitempty"`
	// Components are the control plane's processes and Flywheel's
	// components, in start order.
	Components []Component `json:"components,omitempty"`
	// Sandboxes are the network sandboxes made for components.
	Sandboxes []SandboxRecord `json:"sandboxes,omitempty"`
}

// Component is one piece of a running Flywheel.
type Component struct {
	Name string `json:"name"`
	// Process is the component's own process; for a component that runs
	// in the owner's process (InProcess) or as pods (Deployment) it is
	// zero.
	Process   Process `json:"process,omitzero"`
	InProcess bool    `json:"inProcess,omitempty"`
	// Deployment, DaemonSet or StatefulSet names the component's
	// workload when it runs as pods on the node, in Namespace
	// (SystemNamespace when empty).
	Deployment  string `json:"deployment,omitempty"`
	DaemonSet   string `json:"daemonSet,omitempty"`
	StatefulSet string `json:"statefulSet,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	// Address is where it serves, when something connects to it.
	Address string `json:"address,omitempty"`
	// Log is the file it writes its output to.
	Log string `json:"log,omitempty"`
}

// AsPods says whether the component runs as the pods of a workload.
func (c Component) AsPods() bool {
	return c.Deployment != "" || c.DaemonSet != "" || c.StatefulSet != ""
}

// WorkloadNamespace is the namespace of the component's workload.
func (c Component) WorkloadNamespace() string {
	if c.Namespace == "" {
		return SystemNamespace
	}
	return c.Namespace
}

// Workload is the component's workload as kind/name, "" for a process.
func (c Component) Workload() string {
	switch {
	case c.Deployment != "":
		return "deployment/" + c.Deployment
	case c.DaemonSet != "":
		return "daemonset/" + c.DaemonSet
	case c.StatefulSet != "":
		return "statefulset/" + c.StatefulSet
	}
	return ""
}

// Process names a process by pid, start time and executable, so that a
// pid reused after a crash is never taken for it, let alone signalled.
type Process struct {
	PID int `json:"pid"`
	// Start is the start time in clock ticks after boot (field 22 of
	// /proc/<pid>/stat).
	Start uint64 `json:"start"`
	// Executable is what /proc/<pid>/exe pointed at.
	Executable string `json:"executable"`
}

// SandboxRecord is what one network sandbox made on the host.
type SandboxRecord struct {
	Netns    string `json:"netns"`
	HostLink string `json:"hostLink"`
}

// ProcessOf describes the running process pid, as a Process records it.
func ProcessOf(pid int) (Process, error) {
	start, err := processStart(pid)
	if err != nil {
		return Process{}, err
	}
	exe, err := processExecutable(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, Start: start, Executable: exe}, nil
}

// Running reports whether the process still runs: a live process with that
// pid, the same start time and the same executable. A zombie does not run.
func (p Process) Running() bool {
	if p.PID <= 0 {
		return false
	}
	got, err := ProcessOf(p.PID)
	if err != nil {
		return false
	}
	return got.Start == p.Start && got.Executable == p.Executable
}

// processStart reads the start time of a live process; a zombie or dead
// one is an error.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command (field 2) is in parentheses and may hold anything,
	// spaces and parentheses included: the fields after it start after
	// the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (the state), so field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// processExecutable is the file the process runs. A binary replaced since
// (a rebuilt component) reads "<path> (deleted)": it is still the same
// process, so the suffix is dropped.
func processExecutable(pid int) (string, error) {
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(exe, " (deleted)"), nil
}

// StatePath is the state file of the work directory dir.
func StatePath(dir string) string { return filepath.Join(dir, StateFileName) }

// ErrNoState is returned by ReadState when no Flywheel recorded itself in
// the directory.
var ErrNoState = errors.New("no Flywheel state")

// ReadState reads the state file of the work directory dir; ErrNoState
// when there is none.
func ReadState(dir string) (*State, error) {
	b, err := os.ReadFile(StatePath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoState, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the Flywheel state: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reading the Flywheel state %s: %w", StatePath(dir), err)
	}
	return &st, nil
}

// writeState writes st to the work directory dir: write, then rename, so
// that a crash leaves the old or the new file, never half of one.
func writeState(dir string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := StatePath(dir)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the Flywheel state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing the Flywheel state: %w", err)
	}
	return nil
}

// Running reports whether the process that wrote the state still runs.
func (st *State) Running() bool { return st.Owner.Running() }

// Component returns the component of that name, if recorded.
func (st *State) Component(name string) (Component, bool) {
	for _, c := range st.Components {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}

// AlreadyUpError says a live process already runs Flywheel in a work
// directory.
type AlreadyUpError struct {
	PID     int
	WorkDir string
}

func (e *AlreadyUpError) Error() string {
	return fmt.Sprintf("Flywheel is already up in %s (pid %d)", e.WorkDir, e.PID)
}

// record changes the state with f and writes it out. Up records each thing
// before it makes it, so Stop and Down find it even if making it failed
// half-way.
func (c *Flywheel) record(f func(*State)) error {
	if c.state == nil {
		return nil
	}
	f(c.state)
	return writeState(c.workDir, c.state)
}

// recordProcess records a component that runs as a process of its own.
func (c *Flywheel) recordProcess(name string, pid int, address, log string) error {
	p, err := ProcessOf(pid)
	if err != nil {
		return fmt.Errorf("recording the %s (pid %d): %w", name, pid, err)
	}
	return c.record(func(st *State) {
		st.Components = append(st.Components, Component{Name: name, Process: p, Address: address, Log: log})
	})
}

// recordInProcess records a component that runs in this process.
func (c *Flywheel) recordInProcess(name, address, log string) error {
	return c.record(func(st *State) {
		st.Components = append(st.Components, Component{Name: name, InProcess: true, Address: address, Log: log})
	})
}

// RecordKubeconfig records the admin kubeconfig to show users, when the
// caller made a copy of the control plane's that outlives it.
func (c *Flywheel) RecordKubeconfig(path string) error {
	return c.record(func(st *State) { st.Kubeconfig = path })
}

// claimWorkDir refuses a work directory in which a live process runs
// Flywheel, sweeps what a crashed one left there, and records this
// process as the owner.
func (c *Flywheel) claimWorkDir() error {
	st, err := ReadState(c.workDir)
	switch {
	case errors.Is(err, ErrNoState):
	case err != nil:
		return err
	case st.Running():
		return &AlreadyUpError{PID: st.Owner.PID, WorkDir: c.workDir}
	default:
		if err := sweep(st, c.workDir, io.Discard); err != nil {
			return fmt.Errorf("removing what an earlier Flywheel (pid %d) left: %w", st.Owner.PID, err)
		}
	}
	owner, err := ProcessOf(os.Getpid())
	if err != nil {
		return err
	}
	c.state = &State{Owner: owner, Started: time.Now().UTC().Truncate(time.Second), WorkDir: c.workDir}
	return c.record(func(*State) {})
}

// recordControlPlane records the control plane's processes and where it
// serves; tempDataDir says Start made its data directory.
func (c *Flywheel) recordControlPlane(tempDataDir bool) error {
	cp := c.ControlPlane
	if err := c.record(func(st *State) {
		st.APIServer = cp.APIServerURL
		st.Kubeconfig = cp.KubeconfigPath
		if tempDataDir {
			st.ControlPlaneTempDir = cp.DataDir
		}
	}); err != nil {
		return err
	}
	pids := cp.PIDs()
	for _, name := range []string{controlplane.EtcdBinary, controlplane.APIServerBinary, controlplane.ControllerManagerBinary} {
		pid, ok := pids[name]
		if !ok {
			continue
		}
		var addr string
		switch name {
		case controlplane.EtcdBinary:
			addr = hostOf(cp.EtcdURL)
		case controlplane.APIServerBinary:
			addr = hostOf(cp.APIServerURL)
		case controlplane.ControllerManagerBinary:
			addr = hostOf(cp.ControllerManagerURL)
		}
		if err := c.recordProcess(name, pid, addr, filepath.Join(cp.LogDir, name+".log")); err != nil {
			return err
		}
	}
	return nil
}

// hostOf is the host:port of a URL, empty when it has none.
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// address is host:port, or empty for port 0.
func address(host string, port int32) string {
	if port == 0 {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stateFileName is the file under DataDir that records everything the node
// made on the host, written before each thing is made, so that Sweep can
// remove it after a crash.
const stateFileName = "state.json"

// nodeState is what stateFileName holds.
type nodeState struct {
	// Owner is the node process; Sweep leaves a live owner's state alone.
	Owner   processRef        `json:"owner"`
	Network *hostNetworkState `json:"network,omitempty"`
	// Cgroup is the node's cgroup, the parent of its pods'.
	Cgroup string                `json:"cgroup,omitempty"`
	Pods   map[string]*podRecord `json:"pods,omitempty"` // by pod UID
}

// processRef names a process by pid and start time, so that a pid reused
// by an unrelated process after a crash or reboot is never signalled.
type processRef struct {
	PID int `json:"pid"`
	// Start is the process's start time in clock ticks after boot
	// (field 22 of /proc/<pid>/stat).
	Start uint64 `json:"start"`
}

// hostNetworkState records the node-wide routing: the node's address on
// the loopback device, unreachable routes and policy rules.
type hostNetworkState struct {
	NodeIP string        `json:"nodeIP"`
	Routes []routeRecord `json:"routes,omitempty"`
	Rules  []ruleRecord  `json:"rules,omitempty"`
	// ServiceRoute is the service range's route for pods, through lo.
	ServiceRoute *serviceRouteRecord `json:"serviceRoute,omitempty"`
}

// serviceRouteRecord is the service range's route through lo in a table
// of the node's own.
type serviceRouteRecord struct {
	Dst   string `json:"dst"`
	Table int    `json:"table"`
}

// routeRecord is an unreachable route in the main table.
type routeRecord struct {
	Dst    string `json:"dst"`
	Metric int    `json:"metric"`
}

// ruleRecord is a policy routing rule.
type ruleRecord struct {
	Priority int    `json:"priority"`
	Src      string `json:"src,omitempty"`
	Dst      string `json:"dst,omitempty"`
	// Iif, when set, limits the rule to packets arriving on that link.
	Iif string `json:"iif,omitempty"`
	// Table is looked up when the rule matches; zero with Unreachable.
	Table       int  `json:"table,omitempty"`
	Unreachable bool `json:"unreachable,omitempty"`
}

// podRecord is what one pod's sandbox made.
type podRecord struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	IP        string `json:"ip,omitempty"`
	Netns     string `json:"netns,omitempty"`
	HostLink  string `json:"hostLink,omitempty"`
	LogDir    string `json:"logDir,omitempty"`
	// Dir is the pod's directory (its /tmp, /etc files and volumes) and
	// Mounts the tmpfs mounts in it on the host (emptyDir medium Memory).
	Dir    string   `json:"dir,omitempty"`
	Mounts []string `json:"mounts,omitempty"`
	// Cgroup is the pod's cgroup, with one child per container.
	Cgroup string `json:"cgroup,omitempty"`
	// Processes are the leaders of the process groups the node started
	// for the pod and that have not yet been reaped.
	Processes []processRef `json:"processes,omitempty"`
}

// stateStore keeps nodeState in memory and on disk.
type stateStore struct {
	path string

	mu sync.Mutex
	st nodeState
}

func newStateStore(dataDir string, owner processRef) (*stateStore, error) {
	s := &stateStore{
		path: filepath.Join(dataDir, stateFileName),
		st:   nodeState{Owner: owner, Pods: map[string]*podRecord{}},
	}
	return s, s.update(func(*nodeState) {})
}

// update changes the state with f and writes it out (write, then rename, so
// that a crash leaves the old or the new file, never half of one).
func (s *stateStore) update(f func(*nodeState)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
	b, err := json.MarshalIndent(&s.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing the node state: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("writing the node state: %w", err)
	}
	return nil
}

// pod updates the record of one pod, creating it if needed.
func (s *stateStore) pod(uid string, f func(*podRecord)) error {
	return s.update(func(st *nodeState) {
		r := st.Pods[uid]
		if r == nil {
			r = &podRecord{}
			st.Pods[uid] = r
		}
		f(r)
	})
}

// Sweep removes what a node with this data directory left on the host when
// it crashed or was killed: the pods' processes, network namespaces, veths
// and log directories, the node's address, routes and rules. It refuses
// while the node that wrote the state still runs. New calls it too, so a
// restarted node starts clean (pods are then started afresh from the API).
func Sweep(dataDir string) error {
	path := filepath.Join(dataDir, stateFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the node state: %w", err)
	}
	var st nodeState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("reading the node state %s: %w", path, err)
	}
	if st.Owner.PID != os.Getpid() && st.Owner.alive() {
		return fmt.Errorf("a node (pid %d) is running with data directory %s", st.Owner.PID, dataDir)
	}
	var errs []error
	for uid, r := range st.Pods {
		if err := sweepPod(r); err != nil {
			errs = append(errs, fmt.Errorf("pod %s/%s (%s): %w", r.Namespace, r.Name, uid, err))
		}
	}
	if st.Network != nil {
		errs = append(errs, removeHostNetwork(st.Network))
	}
	if st.Cgroup != "" {
		errs = append(errs, removeCgroup(st.Cgroup))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sweeping %s: %w", dataDir, err)
	}
	return os.Remove(path)
}

// sweepPod ends a pod's processes and removes its sandbox and logs.
func sweepPod(r *podRecord) error {
	var errs []error
	if r.Cgroup != "" {
		// Every process of the pod, wherever it went.
		errs = append(errs, removeCgroup(r.Cgroup))
	}
	for _, p := range r.Processes {
		p.killGroup()
	}
	if r.Netns != "" || r.HostLink != "" {
		errs = append(errs, removePodNetwork(r.Netns, r.HostLink))
	}
	if r.Dir != "" {
		errs = append(errs, removePodDir(r.Dir, r.Mounts))
	}
	if r.LogDir != "" {
		errs = append(errs, os.RemoveAll(r.LogDir))
	}
	return errors.Join(errs...)
}

// self is the running process as a processRef.
func self() (processRef, error) {
	start, err := processStart(os.Getpid())
	if err != nil {
		return processRef{}, err
	}
	return processRef{PID: os.Getpid(), Start: start}, nil
}

// alive reports whether the process still runs (and is the same process).
func (p processRef) alive() bool {
	start, err := processStart(p.PID)
	return err == nil && start == p.Start
}

// killGroup sends SIGKILL to what is left of the process group p led. The
// leader may be gone while members remain: Linux does not hand out a pid
// still used as a process group id, so members are found by their group
// and by having started no earlier than the leader.
//
// It waits (a few seconds at most) until the members are gone, so that
// what follows (deleting the network namespace) does not race them.
func (p processRef) killGroup() {
	if p.PID <= 0 {
		return
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		members := p.members()
		if len(members) == 0 {
			return
		}
		for _, pid := range members {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// members lists the live (not zombie) processes of the group p led.
func (p processRef) members() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err == nil && st.pgid == p.PID && st.start >= p.Start && st.state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processStart returns the start time of pid, in clock ticks after boot.
func processStart(pid int) (uint64, error) {
	st, err := readStat(pid)
	return st.start, err
}

// procStat is what the node reads from /proc/<pid>/stat.
type procStat struct {
	state byte
	pgid  int
	start uint64
}

// readStat parses /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	// After ") ": state(3) ppid(4) pgrp(5) ... starttime(22).
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	st := procStat{state: f[0][0]}
	if st.pgid, err = strconv.Atoi(f[2]); err != nil {
		return procStat{}, err
	}
	if st.start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return procStat{}, err
	}
	return st, nil
}

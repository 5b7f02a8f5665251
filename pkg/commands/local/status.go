package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/local"
)

type statusOptions struct {
	dataDir string
	output  string
}

// NewLocalStatusCommand returns `fw local status`.
func NewLocalStatusCommand(_ *params.Params) *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether Flywheel runs locally: its processes, the API server, the node and the pods",
		Long: `Show the Flywheel that fw local up runs with this data directory: the
fw process, the API server (its /readyz), each component (its process, or
fw's own for those that run inside it, and whether its address answers),
the node's Ready condition, and the pods of every namespace.

When nothing runs it says so and exits 0; -o json|yaml then prints
"running": false, so scripts can tell.`,
		Example: `  fw local status
  fw local status -o json
  fw local status --data-dir /tmp/flywheel`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &o.output)
	addDataDirFlag(cmd, &o.dataDir)
	return cmd
}

// Status is what fw local status shows, and its -o json|yaml form.
type Status struct {
	// Running says fw local up runs; Ready that it has finished starting.
	Running bool   `json:"running"`
	Ready   bool   `json:"ready"`
	PID     int    `json:"pid,omitempty"`
	DataDir string `json:"dataDir"`
	// Message says why it does not run, or what could not be read.
	Message    string            `json:"message,omitempty"`
	Started    *time.Time        `json:"started,omitempty"`
	Kubeconfig string            `json:"kubeconfig,omitempty"`
	APIServer  *APIServerStatus  `json:"apiServer,omitempty"`
	Gateway    string            `json:"gateway,omitempty"`
	Components []ComponentStatus `json:"components,omitempty"`
	Nodes      []NodeStatus      `json:"nodes,omitempty"`
	Pods       []PodStatus       `json:"pods,omitempty"`
}

// APIServerStatus is the API server's answer to GET /readyz.
type APIServerStatus struct {
	URL     string `json:"url"`
	Ready   bool   `json:"ready"`
	Message string `json:"message,omitempty"`
}

// ComponentStatus is one process of the control plane or of Flywheel, or
// a component running inside fw.
type ComponentStatus struct {
	Name string `json:"name"`
	// PID is the component's process, fw's for one InProcess, zero for
	// one that runs as pods.
	PID       int  `json:"pid"`
	InProcess bool `json:"inProcess,omitempty"`
	// Workload names, for a component that runs as pods, its workload
	// ("deployment/flywheel-gateway",
	// "kube-system/daemonset/kube-proxy": the namespace is given when it
	// is not flywheel-system); ReadyPods counts them ("1/1").
	Workload  string `json:"workload,omitempty"`
	ReadyPods string `json:"readyPods,omitempty"`
	Running   bool   `json:"running"`
	Address   string `json:"address,omitempty"`
	// Answering says a TCP connection to Address succeeded.
	Answering bool   `json:"answering,omitempty"`
	Message   string `json:"message,omitempty"`
	Log       string `json:"log,omitempty"`
}

// NodeStatus is a Node's Ready condition.
type NodeStatus struct {
	Name    string `json:"name"`
	Ready   string `json:"ready"`
	Message string `json:"message,omitempty"`
}

// PodStatus is one line of the pods table.
type PodStatus struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Phase     string `json:"phase"`
	Ready     string `json:"ready"`
	IP        string `json:"ip,omitempty"`
}

// probes are what status asks beyond the Kubernetes API: tests replace
// them.
type probes struct {
	// readyz returns nil when the API server answers GET /readyz with 200.
	readyz func(context.Context) error
	// dial returns nil when addr accepts a TCP connection.
	dial func(ctx context.Context, addr string) error
}

// probeTimeout bounds each of status's requests, so that a wedged
// component makes the table slow by seconds, not forever.
const probeTimeout = 3 * time.Second

func runStatus(ctx context.Context, out io.Writer, o statusOptions) error {
	if err := printers.CheckOutput(o.output); err != nil {
		return err
	}
	if o.output == printers.NameOutput || o.output == printers.URLOutput {
		return fmt.Errorf("--output %s: the status is no API object; want %s or %s", o.output, printers.JSON, printers.YAML)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	dir := dataDir(o.dataDir)
	st, err := local.ReadState(dir)
	var s Status
	switch {
	case errors.Is(err, local.ErrNoState):
		s = Status{DataDir: dir, Message: "Flywheel is not running locally (no " + local.StateFileName + " in " + dir + "); start it with fw local up"}
	case err != nil:
		return err
	case !st.Running():
		s = Status{DataDir: dir, PID: st.Owner.PID, Message: fmt.Sprintf(
			"Flywheel is not running locally: fw local up (pid %d) exited without cleaning up; fw local down removes what it left", st.Owner.PID)}
	default:
		kube, pr, err := connect(st)
		if err != nil {
			return err
		}
		s = gatherStatus(ctx, st, dir, kube, pr)
	}
	return printStatus(out, o.output, s)
}

// connect returns a client of the recorded API server and the real
// probes.
func connect(st *local.State) (kubernetes.Interface, probes, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", st.Kubeconfig)
	if err != nil {
		return nil, probes{}, fmt.Errorf("loading the kubeconfig %s: %w", st.Kubeconfig, err)
	}
	cfg.Timeout = probeTimeout
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, probes{}, err
	}
	return kube, probes{
		readyz: func(ctx context.Context) error {
			_, err := kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			return err
		},
		dial: func(ctx context.Context, addr string) error {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return err
			}
			// An address that is gone from the host (a node that
			// stopped) would be dialled through the default route.
			if ip := net.ParseIP(host); ip == nil || !local.OnThisHost(ip) {
				return fmt.Errorf("%s is not an address of this host", host)
			}
			d := net.Dialer{Timeout: probeTimeout}
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			return c.Close()
		},
	}, nil
}

// gatherStatus asks the processes, the addresses and the API server how
// the recorded Flywheel is.
func gatherStatus(ctx context.Context, st *local.State, dir string, kube kubernetes.Interface, pr probes) Status {
	started := st.Started
	s := Status{
		Running:    true,
		Ready:      st.Ready,
		PID:        st.Owner.PID,
		DataDir:    dir,
		Started:    &started,
		Kubeconfig: st.Kubeconfig,
		Gateway:    st.GatewayAddress,
	}
	if st.APIServer != "" {
		s.APIServer = &APIServerStatus{URL: st.APIServer}
		if err := pr.readyz(ctx); err != nil {
			s.APIServer.Message = err.Error()
		} else {
			s.APIServer.Ready = true
		}
	}
	for _, c := range st.Components {
		cs := ComponentStatus{Name: c.Name, PID: c.Process.PID, InProcess: c.InProcess, Address: c.Address, Log: c.Log}
		if c.AsPods() {
			s.Components = append(s.Components, workloadStatus(ctx, kube, cs, c))
			continue
		}
		if c.InProcess {
			cs.PID, cs.Running = st.Owner.PID, true
		} else {
			cs.Running = c.Process.Running()
		}
		if cs.Running && c.Address != "" {
			if err := pr.dial(ctx, c.Address); err != nil {
				cs.Message = err.Error()
			} else {
				cs.Answering = true
			}
		}
		s.Components = append(s.Components, cs)
	}
	if s.APIServer != nil && !s.APIServer.Ready {
		return s
	}
	var errs []string
	if nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		errs = append(errs, "listing Nodes: "+err.Error())
	} else {
		for _, n := range nodes.Items {
			ns := NodeStatus{Name: n.Name, Ready: string(corev1.ConditionUnknown)}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					ns.Ready, ns.Message = string(c.Status), c.Message
				}
			}
			s.Nodes = append(s.Nodes, ns)
		}
	}
	if pods, err := kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{}); err != nil {
		errs = append(errs, "listing Pods: "+err.Error())
	} else {
		for _, p := range pods.Items {
			ready := 0
			for _, c := range p.Status.ContainerStatuses {
				if c.Ready {
					ready++
				}
			}
			s.Pods = append(s.Pods, PodStatus{
				Namespace: p.Namespace,
				Name:      p.Name,
				Phase:     string(p.Status.Phase),
				Ready:     fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers)),
				IP:        p.Status.PodIP,
			})
		}
		slices.SortFunc(s.Pods, func(a, b PodStatus) int {
			return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
		})
	}
	s.Message = strings.Join(errs, "; ")
	return s
}

// workloadStatus is the state of a component that runs as the pods of a
// Deployment or DaemonSet: running while one is ready, answering once all
// are.
func workloadStatus(ctx context.Context, kube kubernetes.Interface, cs ComponentStatus, c local.Component) ComponentStatus {
	cs.Workload = c.Workload()
	if ns := c.WorkloadNamespace(); ns != local.SystemNamespace {
		cs.Workload = ns + "/" + cs.Workload
	}
	w, err := local.WorkloadStateOf(ctx, kube, c)
	if err != nil {
		cs.Message = err.Error()
		return cs
	}
	cs.ReadyPods = fmt.Sprintf("%d/%d", w.Ready, w.Want)
	cs.Running = w.Ready > 0
	cs.Answering = w.Want > 0 && w.Ready >= w.Want
	return cs
}

// printStatus writes s as a table, or as JSON or YAML.
func printStatus(out io.Writer, format string, s Status) error {
	switch format {
	case printers.JSON:
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case printers.YAML:
		b, err := yaml.Marshal(s)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	if !s.Running {
		_, err := fmt.Fprintln(out, s.Message)
		return err
	}
	state := "up"
	if !s.Ready {
		state = "starting"
	}
	fmt.Fprintf(out, "Flywheel is %s (pid %d), data in %s\n", state, s.PID, s.DataDir)
	if s.Kubeconfig != "" {
		fmt.Fprintf(out, "Kubeconfig: %s\n", s.Kubeconfig)
	}
	if s.APIServer != nil {
		ready := "ready"
		if !s.APIServer.Ready {
			ready = "not ready: " + s.APIServer.Message
		}
		fmt.Fprintf(out, "API server: %s, %s\n", s.APIServer.URL, ready)
	}
	if s.Gateway != "" {
		fmt.Fprintf(out, "Gateway:    http://%s\n", s.Gateway)
	}
	fmt.Fprintln(out)
	t := printers.NewTable(out, "", "COMPONENT", "PID", "ADDRESS", "STATE")
	for _, c := range s.Components {
		pid, addr := strconv.Itoa(c.PID), c.Address
		switch {
		case c.InProcess:
			pid += " (fw)"
		case c.Workload != "":
			pid, addr = "pods", c.Workload
		}
		t.Row(c.Name, pid, addr, componentState(c))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(s.Nodes) > 0 {
		fmt.Fprintln(out)
		t = printers.NewTable(out, "", "NODE", "READY", "MESSAGE")
		for _, n := range s.Nodes {
			t.Row(n.Name, n.Ready, n.Message)
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	if len(s.Pods) == 0 && (s.APIServer == nil || s.APIServer.Ready) {
		fmt.Fprintln(out, "No pods.")
	} else if len(s.Pods) > 0 {
		t = printers.NewTable(out, "", "NAMESPACE", "NAME", "PHASE", "READY", "IP")
		for _, p := range s.Pods {
			t.Row(p.Namespace, p.Name, p.Phase, p.Ready, p.IP)
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	if s.Message != "" {
		fmt.Fprintln(out, s.Message)
	}
	return nil
}

// componentState is the STATE column: whether the process runs and, if
// it serves somewhere, whether the address answers.
func componentState(c ComponentStatus) string {
	switch {
	case c.Workload != "" && c.Message != "":
		return "unknown: " + c.Message
	case c.Workload != "" && c.Answering:
		return "ready " + c.ReadyPods
	case c.Workload != "":
		return "not ready: " + c.ReadyPods + " pods ready"
	}
	switch {
	case !c.Running:
		return "not running"
	case c.Address == "":
		return "running"
	case c.Answering:
		return "serving"
	}
	return "running, not answering: " + c.Message
}

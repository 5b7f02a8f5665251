package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/local"
)

type logsOptions struct {
	dataDir   string
	pod       string
	namespace string
	container string
	follow    bool
	tail      int
}

// workDirComponents are the components whose logs stay in the data
// directory after fw local up has stopped; the control plane's go with
// its temporary directory.
var workDirComponents = []string{"node"}

// followInterval is how often a followed log file is read again.
const followInterval = 200 * time.Millisecond

// NewLocalLogsCommand returns `fw local logs`.
func NewLocalLogsCommand(_ *params.Params) *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs COMPONENT | pod/NAME",
		Short: "Print the log of a component of the local Flywheel, or of a pod's container",
		Long: `Print the log of a component of the Flywheel that fw local up runs with this
data directory: etcd, kube-apiserver, kube-controller-manager, node, or
Flywheel's webhook, controller, activator, autoscaler or gateway. The node's
log stays in the data directory after fw local down. Flywheel's components
run as pods of the node: their logs come through the API server, from a
ready pod of the component's Deployment.

pod/NAME (or --pod NAME) prints a container's log through the API server,
which asks the node's kubelet API for it, as kubectl logs does. A pod with
several containers needs -c, else its default container (annotation
kubectl.kubernetes.io/default-container, else the first) is shown.`,
		Example: `  fw local logs controller
  fw local logs node --tail 50 -f
  fw local logs pod/hello-00001-deployment-5c7d9b8f6-x2k4p -c user-container
  fw local logs --pod my-pod -n demo -f`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			// Ctrl-C ends -f; it is how a follow is meant to stop.
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runLogs(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), args, o)
		},
	}
	addDataDirFlag(cmd, &o.dataDir)
	cmd.Flags().StringVar(&o.pod, "pod", "", "print the log of this pod instead of a component's")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", metav1.NamespaceDefault, "the pod's namespace")
	cmd.Flags().StringVarP(&o.container, "container", "c", "", "the pod's container (default: its default container)")
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing what is written, until interrupted")
	cmd.Flags().IntVar(&o.tail, "tail", -1, "print only the last N lines (-1: all)")
	return cmd
}

func runLogs(ctx context.Context, out, errOut io.Writer, args []string, o logsOptions) error {
	pod := o.pod
	var component string
	if len(args) == 1 {
		if name, ok := cutPodPrefix(args[0]); ok {
			if pod != "" {
				return fmt.Errorf("both %s and --pod %s given; give one", args[0], pod)
			}
			pod = name
		} else {
			component = args[0]
		}
	}
	if (pod == "") == (component == "") {
		return errors.New("say whose log: a component (" + strings.Join(componentNames(nil), ", ") + ") or pod/NAME")
	}
	dir := dataDir(o.dataDir)
	st, err := local.ReadState(dir)
	if err != nil && !errors.Is(err, local.ErrNoState) {
		return err
	}
	if pod != "" {
		if st == nil || !st.Running() {
			return fmt.Errorf("no Flywheel runs locally with data directory %s: pod logs come through its API server; start it with fw local up", dir)
		}
		kube, _, err := connect(st)
		if err != nil {
			return err
		}
		return podLogs(ctx, out, errOut, kube, o.namespace, pod, o)
	}
	if c, ok := recordedComponent(st, component); ok && c.AsPods() {
		if !st.Running() {
			return fmt.Errorf("the %s ran as pods of the node, whose logs went with it; fw local up runs it again", component)
		}
		kube, _, err := connect(st)
		if err != nil {
			return err
		}
		pod, err := workloadPod(ctx, kube, c)
		if err != nil {
			return err
		}
		return podLogs(ctx, out, errOut, kube, c.WorkloadNamespace(), pod, o)
	}
	path, err := componentLog(st, dir, component)
	if err != nil {
		return err
	}
	return printFile(ctx, out, path, o.tail, o.follow, followInterval)
}

func recordedComponent(st *local.State, name string) (local.Component, bool) {
	if st == nil {
		return local.Component{}, false
	}
	return st.Component(name)
}

// workloadPod returns the name of a pod of the component's Deployment or
// DaemonSet: a ready one if there is one, else the newest.
func workloadPod(ctx context.Context, kube kubernetes.Interface, c local.Component) (string, error) {
	w, err := local.WorkloadStateOf(ctx, kube, c)
	if err != nil {
		return "", err
	}
	selector, err := metav1.LabelSelectorAsSelector(w.Selector)
	if err != nil {
		return "", fmt.Errorf("the selector of %s: %w", c.Workload(), err)
	}
	pods, err := kube.CoreV1().Pods(c.WorkloadNamespace()).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return "", err
	}
	if len(pods.Items) == 0 {
		return "", fmt.Errorf("no pod of %s in %s yet", c.Workload(), c.WorkloadNamespace())
	}
	best := &pods.Items[0]
	for i := range pods.Items {
		p := &pods.Items[i]
		if podReady(p) != podReady(best) {
			if podReady(p) {
				best = p
			}
			continue
		}
		if p.CreationTimestamp.After(best.CreationTimestamp.Time) {
			best = p
		}
	}
	return best.Name, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// cutPodPrefix returns NAME of pod/NAME or pods/NAME.
func cutPodPrefix(arg string) (string, bool) {
	for _, prefix := range []string{"pod/", "pods/", "po/"} {
		if name, ok := strings.CutPrefix(arg, prefix); ok {
			return name, true
		}
	}
	return "", false
}

// componentNames lists the components with a log: the recorded ones, else
// those whose logs stay in the data directory.
func componentNames(st *local.State) []string {
	if st == nil {
		return workDirComponents
	}
	var names []string
	for _, c := range st.Components {
		if c.Log != "" || c.AsPods() {
			names = append(names, c.Name)
		}
	}
	return names
}

// componentLog finds the log file of a component: where the state
// recorded it, else (nothing runs) in the data directory.
func componentLog(st *local.State, dir, name string) (string, error) {
	if st != nil {
		if c, ok := st.Component(name); ok && c.Log != "" {
			return c.Log, nil
		}
	}
	if slices.Contains(workDirComponents, name) {
		path := filepath.Join(dir, name+".log")
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("no log of %q in %s: the components are %s", name, dir, strings.Join(componentNames(st), ", "))
}

// podLogs copies a container's log from the API server, which proxies the
// request to the node's kubelet API (pkg/node/server.go).
func podLogs(ctx context.Context, out, errOut io.Writer, kube kubernetes.Interface, ns, name string, o logsOptions) error {
	opts := &corev1.PodLogOptions{Container: o.container, Follow: o.follow}
	if o.tail >= 0 {
		opts.TailLines = ptr.To(int64(o.tail))
	}
	if opts.Container == "" {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("getting pod %s/%s: %w", ns, name, err)
		}
		if len(p.Spec.Containers) > 1 {
			opts.Container = defaultContainer(p)
			fmt.Fprintf(errOut, "Showing container %s of pod %s (it has %d; choose one with -c).\n", opts.Container, name, len(p.Spec.Containers))
		}
	}
	stream, err := kube.CoreV1().Pods(ns).GetLogs(name, opts).Stream(ctx)
	if err != nil {
		return fmt.Errorf("reading the log of pod %s/%s: %w", ns, name, err)
	}
	defer stream.Close()
	_, err = io.Copy(out, stream)
	if ctx.Err() != nil {
		return nil // interrupted while following
	}
	return err
}

// defaultContainer is the container kubectl shows when none is named.
func defaultContainer(p *corev1.Pod) string {
	if name := p.Annotations["kubectl.kubernetes.io/default-container"]; name != "" {
		return name
	}
	return p.Spec.Containers[0].Name
}

// printFile writes the file at path to out, only its last tail lines when
// tail >= 0. With follow it then keeps writing what is appended, every
// interval, until ctx ends; a file that was replaced or truncated (a new
// fw local up recreates the logs) is read again from its start.
func printFile(ctx context.Context, out io.Writer, path string, tail int, follow bool, interval time.Duration) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	if tail >= 0 {
		off, err := tailOffset(f, tail)
		if err != nil {
			return err
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err
		}
	}
	if _, err := io.Copy(out, f); err != nil {
		return err
	}
	if !follow {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pos, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		cur, err := f.Stat()
		if err != nil {
			return err
		}
		now, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // between a removal and the new file
		case err != nil:
			return err
		case !os.SameFile(cur, now):
			_ = f.Close()
			if f, err = os.Open(path); err != nil {
				return err
			}
		case now.Size() < pos:
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
		}
		if _, err := io.Copy(out, f); err != nil {
			return err
		}
	}
}

// tailOffset returns where the last n lines of f begin, reading it
// backwards a block at a time: a log can be large and only its end is
// wanted. A last line without a newline counts as a line.
func tailOffset(f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	if n == 0 {
		return end, nil
	}
	const block = 32 << 10
	buf := make([]byte, block)
	newlines := 0
	for pos := end; pos > 0; {
		size := min(int64(block), pos)
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == end-1 {
				continue // the file's final newline ends the last line
			}
			newlines++
			if newlines == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}

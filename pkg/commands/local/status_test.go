package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/local"
)

func TestStatusTable(t *testing.T) {
	self, err := local.ProcessOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	st := &local.State{
		Owner:          self,
		Ready:          true,
		Started:        time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		Kubeconfig:     "/data/kubeconfig",
		APIServer:      "https://127.0.0.1:40001",
		GatewayAddress: "127.0.0.1:8080",
		Components: []local.Component{
			// This test's own process stands in for a running one.
			{Name: "kube-apiserver", Process: self, Address: "127.0.0.1:40001"},
			{Name: "kube-controller-manager", Process: local.Process{PID: 1 << 22, Start: 1, Executable: "/data/kcm"}},
			{Name: "node", InProcess: true, Address: "10.244.0.1:10250"},
			{Name: "controller", Deployment: "flywheel-controller"},
			{Name: "gateway", Deployment: "flywheel-gateway"},
			{Name: "webhook", Deployment: "flywheel-webhook"},
			{Name: "kube-proxy", Namespace: "kube-system", DaemonSet: "kube-proxy"},
		},
	}
	kube := fake.NewClientset(
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: local.SystemNamespace, Name: "flywheel-controller"},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)},
			Status:     appsv1.DeploymentStatus{ReadyReplicas: 1},
		},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: local.SystemNamespace, Name: "flywheel-gateway"},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
			Status:     appsv1.DeploymentStatus{ReadyReplicas: 1},
		},
		&appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"},
			Status:     appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, NumberReady: 1},
		},
		&corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "flywheel-local"},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Message: "ok"},
			}},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-1"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "queue-proxy"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.2", ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: true}, {Name: "queue-proxy", Ready: false},
			}},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "job"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodPending},
		},
	)
	pr := probes{
		readyz: func(context.Context) error { return nil },
		dial: func(_ context.Context, addr string) error {
			if addr == "10.244.0.1:10250" {
				return errors.New("connection refused")
			}
			return nil
		},
	}
	s := gatherStatus(t.Context(), st, "/data", kube, pr)
	var out bytes.Buffer
	if err := printStatus(&out, "", s); err != nil {
		t.Fatal(err)
	}
	pid := s.PID
	want := strings.ReplaceAll(`Flywheel is up (pid $PID), data in /data
Kubeconfig: /data/kubeconfig
API server: https://127.0.0.1:40001, ready
Gateway:    http://127.0.0.1:8080

COMPONENT       PID        ADDRESS          STATE
kube-apiserver  $PID        127.0.0.1:40001  serving
kube-controller-manager 4194304 not running
node $PID (fw) 10.244.0.1:10250 running, not answering: connection refused
controller pods deployment/flywheel-controller ready 1/1
gateway pods deployment/flywheel-gateway not ready: 1/2 pods ready
webhook pods deployment/flywheel-webhook unknown: deployments.apps "flywheel-webhook" not found
kube-proxy pods kube-system/daemonset/kube-proxy ready 1/1

NODE            READY  MESSAGE
flywheel-local  True   ok

NAMESPACE  NAME   PHASE    READY  IP
a          job    Pending  0/1
default    web-1  Running  1/2    10.244.0.2
`, "$PID", strconv.Itoa(pid))
	// The PID column's width depends on the pid: compare the lines
	// without their spacing.
	if diff := cmp.Diff(squeeze(want), squeeze(out.String())); diff != "" {
		t.Errorf("status table (-want, +got):\n%s", diff)
	}

	out.Reset()
	if err := printStatus(&out, "json", s); err != nil {
		t.Fatal(err)
	}
	var back Status
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, out.String())
	}
	if diff := cmp.Diff(s, back); diff != "" {
		t.Errorf("-o json round trip (-want, +got):\n%s", diff)
	}
}

func TestStatusNotRunning(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"", "json"} {
		var out bytes.Buffer
		if err := runStatus(t.Context(), &out, statusOptions{dataDir: dir, output: format}); err != nil {
			t.Fatal(err)
		}
		if format == "" {
			if want := "Flywheel is not running locally"; !strings.HasPrefix(out.String(), want) {
				t.Errorf("status with nothing up = %q, want it to start with %q", out.String(), want)
			}
			continue
		}
		var s Status
		if err := json.Unmarshal(out.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if s.Running || s.DataDir != dir {
			t.Errorf("status -o json with nothing up = %+v, want running false and dataDir %s", s, dir)
		}
	}

	// A state whose owner has gone: not running, and down is the cure.
	b, _ := json.Marshal(local.State{Owner: local.Process{PID: 1 << 22, Start: 1, Executable: "/usr/bin/fw"}})
	if err := os.WriteFile(filepath.Join(dir, local.StateFileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runStatus(t.Context(), &out, statusOptions{dataDir: dir}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "fw local down removes what it left") {
		t.Errorf("status of a crashed run = %q, want it to point at fw local down", out.String())
	}
}

func TestDownWithNothingUp(t *testing.T) {
	var out bytes.Buffer
	if err := runDown(t.Context(), &out, downOptions{dataDir: t.TempDir(), timeout: time.Second}); err != nil {
		t.Fatalf("down with nothing up: %v", err)
	}
	if !strings.Contains(out.String(), "nothing to stop") {
		t.Errorf("down with nothing up printed %q", out.String())
	}
}

func squeeze(s string) string {
	var lines []string
	for line := range strings.Lines(s) {
		lines = append(lines, strings.Join(strings.Fields(line), " "))
	}
	return strings.Join(lines, "\n")
}

func TestStatusRefusesOutputsForAPIObjects(t *testing.T) {
	for _, format := range []string{"name", "url"} {
		err := runStatus(t.Context(), &bytes.Buffer{}, statusOptions{dataDir: t.TempDir(), output: format})
		if err == nil || !strings.Contains(err.Error(), "the status is no API object") {
			t.Errorf("status -o %s: error = %v, want a refusal", format, err)
		}
	}
}

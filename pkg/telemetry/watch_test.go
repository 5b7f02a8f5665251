package telemetry

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"

	"flywheel.dev/pkg/telemetry/obsconfig"
)

func TestWatchFollowsTheConfigMap(t *testing.T) {
	ctx := t.Context()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flywheel-system", Name: ConfigMapName},
		Data:       map[string]string{KeyMetricsProtocol: "none", KeyTracingProtocol: "stdout", KeyTracingSamplingRate: "1"},
	}
	kube := fake.NewClientset(cm)
	tel, err := New(ctx, "gateway", Config{Metrics: obsconfig.Metrics{Protocol: obsconfig.ProtocolNone}, Tracing: obsconfig.Tracing{Protocol: obsconfig.ProtocolNone}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	Watch(ctx, tel, kube, "flywheel-system")
	eventually := func(what string, ok func(Config) bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
			return ok(tel.Config()), nil
		}); err != nil {
			t.Fatalf("%s: the configuration in force is %+v", what, tel.Config())
		}
	}
	eventually("the ConfigMap's tracing", func(c Config) bool { return c.Tracing.Protocol == obsconfig.ProtocolStdout && tel.TracingOn() })

	// A broken version leaves the one in force.
	cm.Data = map[string]string{KeyTracingProtocol: "zipkin"}
	if _, err := kube.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if !tel.TracingOn() {
		t.Error("a ConfigMap that does not parse turned tracing off")
	}

	cm.Data = map[string]string{KeyMetricsProtocol: "none", KeyTracingProtocol: "none"}
	if _, err := kube.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("tracing off again", func(c Config) bool { return c.Tracing.Protocol == obsconfig.ProtocolNone && !tel.TracingOn() })
}

package route

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/commandstest"
)

func run(t *testing.T, objs []runtime.Object, args ...string) (string, error) {
	t.Helper()
	p, _ := commandstest.NewParams(t, objs...)
	return commandstest.Run(t, NewRouteCommand(p), args...)
}

func route(name string) *servingv1.Route {
	r := &servingv1.Route{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: commandstest.Namespace, Generation: 1,
		CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-5 * time.Minute)),
		Labels:            map[string]string{serving.ServiceLabel.String(): name},
	}}
	r.Spec.Traffic = []servingv1.TrafficTarget{{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}}
	r.Status.ObservedGeneration = 1
	r.Status.URL = &apis.URL{Scheme: "http", Host: name + ".demo.example.com"}
	r.Status.Address = &duckv1.Addressable{URL: &apis.URL{Scheme: "http", Host: name + ".demo.svc.cluster.local"}}
	r.Status.Traffic = []servingv1.TrafficTarget{
		{RevisionName: name + "-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](50)},
		{RevisionName: name + "-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](50), Tag: "next",
			URL: &apis.URL{Scheme: "http", Host: "next-" + name + ".demo.example.com"}},
	}
	r.Status.Conditions = duckv1.Conditions{
		{Type: "AllTrafficAssigned", Status: corev1.ConditionTrue},
		{Type: "IngressReady", Status: corev1.ConditionUnknown, Reason: "NotAccepted", Message: "waiting for the gateway"},
		{Type: apis.ConditionReady, Status: corev1.ConditionUnknown, Reason: "NotAccepted", Message: "waiting for the gateway"},
	}
	return r
}

func TestList(t *testing.T) {
	out, err := run(t, []runtime.Object{route("hello"), route("bye")}, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME   URL                            AGE  READY    REASON
bye    http://bye.demo.example.com    5m   Unknown  NotAccepted
hello  http://hello.demo.example.com  5m   Unknown  NotAccepted
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}
}

func TestDescribe(t *testing.T) {
	out, err := run(t, []runtime.Object{route("hello")}, "describe", "hello")
	if err != nil {
		t.Fatal(err)
	}
	want := `Name:      hello
Namespace: demo
Service:   hello
URL:       http://hello.demo.example.com
Address:   http://hello.demo.svc.cluster.local
Age:       5m

Traffic:
  PERCENT  REVISION               TAG   URL
  50%      hello-00001
  50%      @latest (hello-00002)  next  http://next-hello.demo.example.com

Conditions:
  TYPE                STATUS   REASON       AGE  MESSAGE
  AllTrafficAssigned  True
  IngressReady        Unknown  NotAccepted       waiting for the gateway
  Ready               Unknown  NotAccepted       waiting for the gateway
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}

func TestReadAsJSON(t *testing.T) {
	r := route("hello")
	out, err := run(t, []runtime.Object{r}, "describe", "hello", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got servingv1.Route
	if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := r.DeepCopy()
	want.APIVersion, want.Kind = "serving.knative.dev/v1", "Route"
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("describe -o json (-want, +got):\n%s", diff)
	}

	out, err = run(t, []runtime.Object{r}, "list", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var list servingv1.RouteList
	if err := yaml.UnmarshalStrict([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "RouteList" || len(list.Items) != 1 || list.Items[0].Kind != "Route" {
		t.Errorf("list -o yaml = %s with %d items, want a RouteList of one Route", list.Kind, len(list.Items))
	}
}

package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/modfile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/randfill"

	"flywheel.dev/config"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/eventing"
)

var eventingCategories = []string{"all", "knative", "eventing"}

func fullDelivery() *eventingv1.DeliverySpec {
	policy := eventingv1.BackoffPolicyExponential
	return &eventingv1.DeliverySpec{
		DeadLetterSink: &duckv1.Destination{
			Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: "default", Name: "dls"},
			URI: &apis.URL{Path: "/dead"},
		},
		Retry:         ptr[int32](5),
		Timeout:       ptr("PT10S"),
		BackoffPolicy: &policy,
		BackoffDelay:  ptr("PT0.2S"),
	}
}

func fullBroker() *eventingv1.Broker {
	url := &apis.URL{Scheme: "http", Host: "broker-ingress.flywheel-system.svc.cluster.local", Path: "/default/default"}
	return &eventingv1.Broker{
		TypeMeta:   metav1.TypeMeta{APIVersion: "eventing.knative.dev/v1", Kind: "Broker"},
		ObjectMeta: objectMeta("default"),
		Spec: eventingv1.BrokerSpec{
			Config:   &duckv1.KReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "cfg"},
			Delivery: fullDelivery(),
		},
		Status: eventingv1.BrokerStatus{
			Status:         status(),
			AddressStatus:  duckv1.AddressStatus{Address: &duckv1.Addressable{Name: ptr("http"), URL: url}, Addresses: []duckv1.Addressable{{Name: ptr("http"), URL: url}}},
			DeliveryStatus: eventingv1.DeliveryStatus{DeadLetterSinkURI: &apis.URL{Scheme: "http", Host: "dls.default.svc.cluster.local"}},
		},
	}
}

func fullTrigger() *eventingv1.Trigger {
	return &eventingv1.Trigger{
		TypeMeta:   metav1.TypeMeta{APIVersion: "eventing.knative.dev/v1", Kind: "Trigger"},
		ObjectMeta: objectMeta("orders"),
		Spec: eventingv1.TriggerSpec{
			Broker: "default",
			Filter: &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": "com.example.order", "source": ""}},
			Filters: []eventingv1.SubscriptionsAPIFilter{
				{All: []eventingv1.SubscriptionsAPIFilter{
					{Exact: map[string]string{"type": "a"}},
					{Any: []eventingv1.SubscriptionsAPIFilter{{Prefix: map[string]string{"source": "/shop"}}, {Suffix: map[string]string{"subject": ".png"}}}},
					{Not: &eventingv1.SubscriptionsAPIFilter{CESQL: "region = 'eu'"}},
				}},
			},
			Subscriber: duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: "default", Name: "orders"}},
			Delivery:   fullDelivery(),
		},
		Status: eventingv1.TriggerStatus{
			Status:         status(),
			SubscriberURI:  &apis.URL{Scheme: "http", Host: "orders.default.svc.cluster.local"},
			DeliveryStatus: eventingv1.DeliveryStatus{DeadLetterSinkURI: &apis.URL{Scheme: "http", Host: "dls.default.svc.cluster.local"}},
		},
	}
}

// randomFilter is a filter with every dialect set, nested depth levels.
func randomFilter(c randfill.Continue, depth int) eventingv1.SubscriptionsAPIFilter {
	f := eventingv1.SubscriptionsAPIFilter{
		Exact:  map[string]string{"e" + c.String(4): c.String(8)},
		Prefix: map[string]string{"p" + c.String(4): c.String(8)},
		Suffix: map[string]string{"s" + c.String(4): c.String(8)},
		CESQL:  "type = '" + c.String(4) + "'",
	}
	if depth > 0 {
		f.All = []eventingv1.SubscriptionsAPIFilter{randomFilter(c, depth-1)}
		f.Any = []eventingv1.SubscriptionsAPIFilter{randomFilter(c, depth-1)}
		not := randomFilter(c, depth-1)
		f.Not = &not
	}
	return f
}

// TestEventingManifestsMatchTheirConstants holds config/eventing to the
// names the components' Go code uses: the ingress's Service, port and
// probe paths, the NATS environment and Secret, and NATS's image tag to
// the nats-server version go.mod pins, which local mode builds.
func TestEventingManifestsMatchTheirConstants(t *testing.T) {
	objs, err := config.Manifests(config.Eventing)
	if err != nil {
		t.Fatal(err)
	}
	find := func(kind, name string) *unstructured.Unstructured {
		t.Helper()
		for _, o := range objs {
			if o.GetKind() == kind && o.GetName() == name {
				return o
			}
		}
		t.Fatalf("config/eventing has no %s %s", kind, name)
		return nil
	}
	deployment := func(name string) *appsv1.Deployment {
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find("Deployment", name).Object, &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}

	var svc corev1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find("Service", eventing.IngressServiceName).Object, &svc); err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 80 {
		t.Errorf("Service %s ports = %+v, want http on 80 (the Broker's address has no port)", svc.Name, svc.Spec.Ports)
	}
	ingress := deployment(eventing.IngressDeploymentName).Spec.Template.Spec.Containers[0]
	if got := ingress.Ports[0].ContainerPort; got != eventing.IngressPort {
		t.Errorf("the ingress listens on %d, want eventing.IngressPort %d", got, eventing.IngressPort)
	}
	if svc.Spec.Selector["app.kubernetes.io/name"] != eventing.IngressDeploymentName {
		t.Errorf("Service %s selects %v, not the ingress's pods", svc.Name, svc.Spec.Selector)
	}
	dispatcher := deployment(eventing.DispatcherDeploymentName).Spec.Template.Spec.Containers[0]
	for _, c := range []corev1.Container{ingress, dispatcher} {
		if got := c.ReadinessProbe.HTTPGet.Path; got != eventing.ReadyPath {
			t.Errorf("%s's readiness probe is %s, want %s", c.Name, got, eventing.ReadyPath)
		}
		if got := c.LivenessProbe.HTTPGet.Path; got != eventing.HealthPath {
			t.Errorf("%s's liveness probe is %s, want %s", c.Name, got, eventing.HealthPath)
		}
		env := map[string]corev1.EnvVar{}
		for _, e := range c.Env {
			env[e.Name] = e
		}
		if !strings.HasPrefix(env[eventing.NATSURLEnv].Value, "nats://nats.flywheel-system.svc:") {
			t.Errorf("%s's %s = %q, want NATS's Service", c.Name, eventing.NATSURLEnv, env[eventing.NATSURLEnv].Value)
		}
		if got := env[eventing.NATSUserEnv].Value; got != eventing.NATSUser {
			t.Errorf("%s's %s = %q, want %q", c.Name, eventing.NATSUserEnv, got, eventing.NATSUser)
		}
		want := &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: eventing.NATSSecretName}, Key: eventing.NATSSecretPasswordKey}
		if p := env[eventing.NATSPasswordEnv].ValueFrom; p == nil || !cmp.Equal(p.SecretKeyRef, want) {
			t.Errorf("%s's %s comes from %+v, want Secret %s key %s", c.Name, eventing.NATSPasswordEnv, p, eventing.NATSSecretName, eventing.NATSSecretPasswordKey)
		}
	}

	var nats appsv1.StatefulSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find("StatefulSet", "flywheel-nats").Object, &nats); err != nil {
		t.Fatal(err)
	}
	natsConf := find("ConfigMap", "flywheel-nats").Object["data"].(map[string]any)["nats.conf"].(string)
	if !strings.Contains(natsConf, "user: "+eventing.NATSUser) {
		t.Errorf("nats.conf does not let user %s in:\n%s", eventing.NATSUser, natsConf)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pinned string
	for _, r := range mod.Require {
		if r.Mod.Path == "github.com/nats-io/nats-server/v2" {
			pinned = strings.TrimPrefix(r.Mod.Version, "v")
		}
	}
	if got := nats.Spec.Template.Spec.Containers[0].Image; got != "nats:"+pinned {
		t.Errorf("NATS runs image %s, want nats:%s, the version go.mod pins and local mode builds", got, pinned)
	}
}

// TestEventingRuntimeSettings holds the Go runtime settings of the
// processes every event crosses (ingress, dispatcher, NATS), which
// docs/benchmarks.md measured: one processor each, and the runtime's
// monitor kept from the deep sleep each event would wake it from.
func TestEventingRuntimeSettings(t *testing.T) {
	objs, err := config.Manifests(config.Eventing)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"GOMAXPROCS": "1", "GODEBUG": "schedtrace=2147483647"}
	seen := 0
	for _, o := range objs {
		name, kind := o.GetName(), o.GetKind()
		workload := kind == "Deployment" && (name == eventing.IngressDeploymentName || name == eventing.DispatcherDeploymentName) ||
			kind == "StatefulSet" && name == "flywheel-nats"
		if !workload {
			continue
		}
		var tmpl struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &tmpl); err != nil {
			t.Fatal(err)
		}
		seen++
		got := map[string]string{}
		for _, e := range tmpl.Spec.Template.Spec.Containers[0].Env {
			if _, ok := want[e.Name]; ok {
				got[e.Name] = e.Value
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s %s's runtime settings (-want, +got):\n%s", o.GetKind(), name, diff)
		}
	}
	if seen != 3 {
		t.Errorf("found %d of the 3 workloads", seen)
	}
}

package service

import (
	"encoding/json"
	"strings"
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

// split is hello after `--tag hello-00001=stable,@latest=candidate
// --traffic stable=90,candidate=10`, served.
func split(s *servingv1.Service) {
	s.Generation, s.Status.ObservedGeneration = 2, 2
	s.Annotations = map[string]string{"team": "web"}
	s.Status.LatestCreatedRevisionName, s.Status.LatestReadyRevisionName = "hello-00002", "hello-00002"
	s.Status.Traffic = []servingv1.TrafficTarget{
		{Tag: "stable", RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](90),
			URL: &apis.URL{Scheme: "http", Host: "stable-hello.demo.example.com"}},
		{Tag: "candidate", RevisionName: "hello-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](10),
			URL: &apis.URL{Scheme: "http", Host: "candidate-hello.demo.example.com"}},
	}
	s.Status.Conditions[1].LastTransitionTime = apis.VolatileTime{Inner: metav1.NewTime(commandstest.Now.Add(-2 * time.Minute))}
}

func rev(name string, generation string, age time.Duration, digest string, ready corev1.ConditionStatus, reason string, opts ...func(*servingv1.Revision)) *servingv1.Revision {
	r := &servingv1.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-age)),
			Labels: map[string]string{
				serving.ServiceLabel.String():                 "hello",
				serving.ConfigurationGenerationLabel.String(): generation,
			},
		},
		Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Name: "user-container", Image: "ko://example.com/hello"}}}},
	}
	if digest != "" {
		r.Status.ContainerStatuses = []servingv1.ContainerStatus{{Name: "user-container", ImageDigest: "ko://example.com/hello@" + digest}}
	}
	r.Status.Conditions = duckv1.Conditions{{Type: apis.ConditionReady, Status: ready, Reason: reason}}
	for _, o := range opts {
		o(r)
	}
	return r
}

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestListShowsATable(t *testing.T) {
	objs := []runtime.Object{
		svc("hello", split),
		svc("broken", notReady("RevisionFailed", "boom")),
		svc("elsewhere", func(s *servingv1.Service) { s.Namespace = "other" }),
	}
	out, _, err := run(t, objs, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME    URL                             LATEST        AGE  READY  REASON
broken  http://broken.demo.example.com  broken-00001  10m  False  RevisionFailed
hello   http://hello.demo.example.com   hello-00002   10m  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}

	out, _, err = run(t, objs, "list", "-A")
	if err != nil {
		t.Fatal(err)
	}
	want = `NAMESPACE  NAME       URL                                LATEST           AGE  READY  REASON
demo       broken     http://broken.demo.example.com     broken-00001     10m  False  RevisionFailed
demo       hello      http://hello.demo.example.com      hello-00002      10m  True
other      elsewhere  http://elsewhere.demo.example.com  elsewhere-00001  10m  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list -A (-want, +got):\n%s", diff)
	}
}

func TestListEmpty(t *testing.T) {
	out, _, err := run(t, nil, "list")
	if err != nil {
		t.Fatal(err)
	}
	if want := "No Services found in namespace demo.\n"; out != want {
		t.Errorf("list = %q, want %q", out, want)
	}
}

func TestDescribeShowsTrafficRevisionsAndConditions(t *testing.T) {
	objs := []runtime.Object{
		svc("hello", split),
		rev("hello-00001", "1", 10*time.Minute, digest, corev1.ConditionTrue, "", func(r *servingv1.Revision) {
			r.Status.ActualReplicas, r.Status.DesiredReplicas = ptr.To[int32](0), ptr.To[int32](0)
			r.Status.Conditions = append(r.Status.Conditions, apis.Condition{Type: "Active", Status: corev1.ConditionFalse, Reason: "NoTraffic"})
		}),
		rev("hello-00002", "2", 3*time.Minute, "", corev1.ConditionUnknown, "Deploying", func(r *servingv1.Revision) {
			r.Status.DesiredReplicas = ptr.To[int32](1)
			r.Status.Conditions = append(r.Status.Conditions, apis.Condition{Type: "ActivatorInPath", Status: corev1.ConditionTrue, Reason: "NoReadyPods"})
		}),
	}
	out, _, err := run(t, objs, "describe", "hello")
	if err != nil {
		t.Fatal(err)
	}
	want := `Name:        hello
Namespace:   demo
URL:         http://hello.demo.example.com
Age:         10m
Annotations: team=web

Traffic:
  PERCENT  REVISION               TAG        URL
  90%      hello-00001            stable     http://stable-hello.demo.example.com
  10%      @latest (hello-00002)  candidate  http://candidate-hello.demo.example.com

Revisions:
  NAME         IMAGE                   DIGEST               AGE  PODS  ACTIVE           PATH                   READY    REASON
  hello-00002  ko://example.com/hello                       3m   ?/1                    activator NoReadyPods  Unknown  Deploying
  hello-00001  ko://example.com/hello  sha256:0123456789ab  10m  0/0   False NoTraffic                         True

Conditions:
  TYPE                 STATUS  REASON  AGE  MESSAGE
  ConfigurationsReady  True
  Ready                True            2m
  RoutesReady          True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}

func TestDescribeMissing(t *testing.T) {
	_, _, err := run(t, nil, "describe", "nope")
	if err == nil || err.Error() != "no Service nope in namespace demo; see fw service list -n demo" {
		t.Errorf("error = %v", err)
	}
}

// TestReadCommandsPrintTheObjectsAsTheAPIHasThem checks -o json and -o
// yaml: the object as stored, with apiVersion and kind, on lists and on
// their items.
func TestReadCommandsPrintTheObjectsAsTheAPIHasThem(t *testing.T) {
	hello := svc("hello", split)
	objs := []runtime.Object{hello}
	wantItem := hello.DeepCopy()
	wantItem.APIVersion, wantItem.Kind = "serving.knative.dev/v1", "Service"

	for _, format := range []string{"json", "yaml"} {
		t.Run("describe -o "+format, func(t *testing.T) {
			out, _, err := run(t, objs, "describe", "hello", "-o", format)
			if err != nil {
				t.Fatal(err)
			}
			var got servingv1.Service
			if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
				t.Fatalf("output is not a Service: %v\n%s", err, out)
			}
			if diff := cmp.Diff(wantItem, &got); diff != "" {
				t.Errorf("describe -o %s (-want, +got):\n%s", format, diff)
			}
		})
		t.Run("list -o "+format, func(t *testing.T) {
			out, _, err := run(t, objs, "list", "-o", format)
			if err != nil {
				t.Fatal(err)
			}
			var got servingv1.ServiceList
			if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
				t.Fatalf("output is not a ServiceList: %v\n%s", err, out)
			}
			want := &servingv1.ServiceList{
				TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "ServiceList"},
				ListMeta: got.ListMeta, // the fake's resource version
				Items:    []servingv1.Service{*wantItem},
			}
			if diff := cmp.Diff(want, &got); diff != "" {
				t.Errorf("list -o %s (-want, +got):\n%s", format, diff)
			}
		})
	}
	t.Run("json is JSON", func(t *testing.T) {
		out, _, err := run(t, objs, "list", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid([]byte(out)) {
			t.Errorf("not JSON:\n%s", out)
		}
	})
	t.Run("an unknown format is refused", func(t *testing.T) {
		_, _, err := run(t, objs, "list", "-o", "xml")
		if err == nil || err.Error() != `--output "xml": want json, yaml, name or url, or leave it out for the human-readable form` {
			t.Errorf("error = %v", err)
		}
	})
	// kn's -o url, which scripts use: curl "$(kn service describe hello -o url)".
	for _, tc := range []struct{ args, want string }{
		{"describe hello -o url", "http://hello.demo.example.com\n"},
		{"list -o url", "http://bye.demo.example.com\nhttp://hello.demo.example.com\n"},
		{"describe hello -o name", "service.serving.knative.dev/hello\n"},
		{"list -o name", "service.serving.knative.dev/bye\nservice.serving.knative.dev/hello\n"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			out, _, err := run(t, append(objs, svc("bye")), strings.Fields(tc.args)...)
			if err != nil || out != tc.want {
				t.Errorf("fw service %s = %q, %v; want %q", tc.args, out, err, tc.want)
			}
		})
	}
	t.Run("-o url of a Service without one says so", func(t *testing.T) {
		noURL := svc("new", func(s *servingv1.Service) { s.Status.URL = nil })
		_, _, err := run(t, []runtime.Object{noURL}, "describe", "new", "-o", "url")
		if err == nil || !strings.Contains(err.Error(), "the Service new has no URL: neither status.url nor status.address.url is set") {
			t.Errorf("error = %v, want it to say there is no URL", err)
		}
	})
}

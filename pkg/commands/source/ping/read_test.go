package ping

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

func TestListShowsATable(t *testing.T) {
	objs := []runtime.Object{
		pingSource("heartbeat"),
		pingSource("standup", func(s *sourcesv1.PingSource) {
			s.Spec.Schedule, s.Spec.Timezone = "0 9 * * 1-5", "Europe/Berlin"
			s.Spec.Sink = duckv1.Destination{URI: &apis.URL{Scheme: "https", Host: "events.example.com", Path: "/in"}}
		}),
		pingSource("broken", func(s *sourcesv1.PingSource) {
			s.Spec.Schedule = ""
			s.Spec.Sink = brokerSink("nope")
		}, status(sourcesv1.ConditionSinkProvided, corev1.ConditionFalse, "NotFound", "not found")),
		pingSource("elsewhere", func(s *sourcesv1.PingSource) { s.Namespace = "other" }),
	}
	out, _, err := run(t, objs, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME       SCHEDULE                     SINK                           AGE  READY  REASON
broken     * * * * *                    broker:nope                    10m  False  NotFound
heartbeat  */2 * * * *                  broker:default                 10m  True
standup    0 9 * * 1-5 (Europe/Berlin)  https://events.example.com/in  10m  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}

	out, _, err = run(t, objs, "list", "-A")
	if err != nil {
		t.Fatal(err)
	}
	checkContains(t, "list -A", out,
		"NAMESPACE  NAME       SCHEDULE",
		"other      elsewhere  */2 * * * *                  broker:default in namespace demo")
}

func TestListEmpty(t *testing.T) {
	out, _, err := run(t, []runtime.Object{pingSource("elsewhere", func(s *sourcesv1.PingSource) { s.Namespace = "other" })}, "list")
	if err != nil {
		t.Fatal(err)
	}
	if want := "No PingSources found in namespace demo.\n"; out != want {
		t.Errorf("list = %q, want %q", out, want)
	}
}

func TestDescribeShowsScheduleDataSinkEventsAndConditions(t *testing.T) {
	s := pingSource("heartbeat", func(s *sourcesv1.PingSource) {
		s.Spec.Timezone = "Europe/Berlin"
		s.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "ops", "region": "eu"}}
	})
	out, _, err := run(t, []runtime.Object{s}, "describe", "heartbeat")
	if err != nil {
		t.Fatal(err)
	}
	want := `Name:         heartbeat
Namespace:    demo
Age:          10m
Schedule:     */2 * * * * (Europe/Berlin)
Data:         {"beat":1}
Content type: application/json
Sink:         broker:default
Sink URI:     http://broker-ingress.flywheel-system.svc.cluster.local/demo/default
CE overrides: region=eu
              team=ops
Events:       type dev.knative.sources.ping, source /apis/v1/namespaces/demo/pingsources/heartbeat

Conditions:
  TYPE          STATUS  REASON  AGE  MESSAGE
  Deployed      True
  Ready         True            9m
  SinkProvided  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}

func TestDescribeANewPingSource(t *testing.T) {
	s := pingSource("blob", func(s *sourcesv1.PingSource) {
		s.Spec.Schedule, s.Spec.Data, s.Spec.DataBase64, s.Spec.ContentType = "", "", "aGVsbG8=", ""
		s.Status = sourcesv1.PingSourceStatus{}
	})
	out, _, err := run(t, []runtime.Object{s}, "describe", "blob")
	if err != nil {
		t.Fatal(err)
	}
	want := `Name:          blob
Namespace:     demo
Age:           10m
Schedule:      * * * * *
Data (base64): aGVsbG8=
Sink:          broker:default
Sink URI:      not resolved yet

Conditions:
  none reported yet
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}

func TestDescribeMissing(t *testing.T) {
	_, _, err := run(t, nil, "describe", "nope")
	if want := "no PingSource nope in namespace demo; see fw source ping list -n demo"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// TestReadCommandsPrintTheObjectsAsTheAPIHasThem checks -o json and -o
// yaml: the objects as stored, with apiVersion and kind.
func TestReadCommandsPrintTheObjectsAsTheAPIHasThem(t *testing.T) {
	heartbeat := pingSource("heartbeat")
	wantItem := heartbeat.DeepCopy()
	wantItem.APIVersion, wantItem.Kind = "sources.knative.dev/v1", "PingSource"

	for _, format := range []string{"json", "yaml"} {
		t.Run("describe -o "+format, func(t *testing.T) {
			out, _, err := run(t, []runtime.Object{heartbeat}, "describe", "heartbeat", "-o", format)
			if err != nil {
				t.Fatal(err)
			}
			var got sourcesv1.PingSource
			if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
				t.Fatalf("output is not a PingSource: %v\n%s", err, out)
			}
			if diff := cmp.Diff(wantItem, &got); diff != "" {
				t.Errorf("describe -o %s (-want, +got):\n%s", format, diff)
			}
		})
		t.Run("list -o "+format, func(t *testing.T) {
			out, _, err := run(t, []runtime.Object{heartbeat}, "list", "-o", format)
			if err != nil {
				t.Fatal(err)
			}
			var got sourcesv1.PingSourceList
			if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
				t.Fatalf("output is not a PingSourceList: %v\n%s", err, out)
			}
			want := &sourcesv1.PingSourceList{
				TypeMeta: metav1.TypeMeta{APIVersion: "sources.knative.dev/v1", Kind: "PingSourceList"},
				ListMeta: got.ListMeta, // the fake's resource version
				Items:    []sourcesv1.PingSource{*wantItem},
			}
			if diff := cmp.Diff(want, &got); diff != "" {
				t.Errorf("list -o %s (-want, +got):\n%s", format, diff)
			}
		})
	}
	if _, _, err := run(t, nil, "list", "-o", "wide"); err == nil {
		t.Error("list -o wide succeeded, want an error naming the formats")
	}
}

package sourcecmd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseKindRef(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  KindRef
	}{
		{"Event:v1", KindRef{Kind: "Event", APIVersion: "v1"}},
		{"Deployment:apps/v1:app=hello,tier=web", KindRef{Kind: "Deployment", APIVersion: "apps/v1", Rest: "app=hello,tier=web"}},
		// kn's examples write known kinds in lower case.
		{"cronjob:batch/v1:app=ping", KindRef{Kind: "CronJob", APIVersion: "batch/v1", Rest: "app=ping"}},
		{"Service:serving.knative.dev/v1:hello", KindRef{Kind: "Service", APIVersion: "serving.knative.dev/v1", Rest: "hello"}},
		{"KafkaSource:sources.knative.dev/v1beta1", KindRef{Kind: "KafkaSource", APIVersion: "sources.knative.dev/v1beta1"}},
	} {
		got, err := ParseKindRef("resource", tc.value, "Event:v1")
		if err != nil {
			t.Errorf("ParseKindRef(%q): %v", tc.value, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseKindRef(%q) (-want, +got):\n%s", tc.value, diff)
		}
	}
}

func TestParseKindRefRefusesWhatItCannotRead(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  string
	}{
		{"Event", `--resource "Event": want KIND:APIVERSION, e.g. --resource Event:v1`},
		{":v1", `--resource ":v1": want KIND:APIVERSION`},
		{"v1:Event", `--resource "v1:Event": the kind comes first, then its apiVersion, e.g. --resource Event:v1`},
		{"apps/v1:Deployment:app=x", `the kind comes first, then its apiVersion, e.g. --resource Deployment:apps/v1`},
		{"widget:example.com/v1", `--resource "widget:example.com/v1": "widget" is not a kind, which begins with a capital letter`},
		{"Deployment:apps", `--resource "Deployment:apps": "apps" is not an apiVersion; write GROUP/VERSION, or only the version for the core group, e.g. apps/v1`},
		{"Deployment:apps/v1/x", `"apps/v1/x" is not an apiVersion`},
	} {
		_, err := ParseKindRef("resource", tc.value, "Event:v1")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseKindRef(%q) = %v, want an error saying %q", tc.value, err, tc.want)
		}
	}
}

func TestSelectorsRoundTrip(t *testing.T) {
	for _, s := range []string{"app=hello", "app=hello,tier=web", "app=hello,tier in (api,web)", "!legacy"} {
		sel, err := ParseSelector("subject", "x", s)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", s, err)
			continue
		}
		if got := FormatKindRef("Job", "batch/v1", sel); got != "Job:batch/v1:"+s {
			t.Errorf("FormatKindRef of %q = %q", s, got)
		}
	}
	if got := FormatKindRef("Event", "v1", nil); got != "Event:v1" {
		t.Errorf("FormatKindRef without a selector = %q", got)
	}
	if got := FormatKindRef("Event", "v1", &metav1.LabelSelector{}); got != "Event:v1" {
		t.Errorf("FormatKindRef with an empty selector = %q", got)
	}
	if _, err := ParseSelector("subject", "Job:batch/v1:app=a b", "app=a b"); err == nil ||
		!strings.Contains(err.Error(), `--subject "Job:batch/v1:app=a b": "app=a b" is not a label selector`) {
		t.Errorf("ParseSelector of a bad selector = %v", err)
	}
}

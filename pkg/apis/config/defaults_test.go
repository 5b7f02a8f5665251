package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
)

// defaultsWith returns DefaultDefaults changed by mutate, so that a row
// states only what its data changes.
func defaultsWith(mutate func(*Defaults)) *Defaults {
	d := DefaultDefaults()
	mutate(d)
	return d
}

// quantity is a parsed quantity as config-defaults holds it.
func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// checkErrorNames fails unless err is an error that tells the operator
// which ConfigMap and which key to fix: without both the message is of no
// use in a cluster with several ConfigMaps of similar keys.
func checkErrorNames(t *testing.T, err error, configMap, key string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one naming %s and %q", configMap, key)
	}
	if msg := err.Error(); !strings.Contains(msg, configMap) || !strings.Contains(msg, fmt.Sprintf("%q", key)) {
		t.Errorf("error %q does not name both the ConfigMap %s and the key %q", msg, configMap, key)
	}
}

// checkCoversKeys fails unless data sets every key in keys, so that the
// row setting every key stays complete when a key is added.
func checkCoversKeys(t *testing.T, data map[string]string, keys []string) {
	t.Helper()
	var got []string
	for k := range data {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(keys))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys set by the every-key row (-want, +got):\n%s", diff)
	}
}

func TestNewDefaultsFromMap(t *testing.T) {
	allKeys := map[string]string{
		"revision-timeout-seconds":                "120",
		"max-revision-timeout-seconds":            "900",
		"revision-response-start-timeout-seconds": "60",
		"revision-idle-timeout-seconds":           "30",
		"container-concurrency":                   "10",
		"container-concurrency-max-limit":         "50",
		"allow-container-concurrency-zero":        "false",
		"container-name-template":                 "app",
		"init-container-name-template":            "setup",
		"enable-service-links":                    "true",
		"revision-cpu-request":                    "250m",
		"revision-memory-request":                 "128Mi",
		"revision-cpu-limit":                      "1",
		"revision-memory-limit":                   "512Mi",
	}
	checkCoversKeys(t, allKeys, DefaultsKeys())

	tests := []struct {
		name string
		data map[string]string
		want *Defaults
		// wantErrKey, when set, is the key the error must name.
		wantErrKey string
	}{{
		name: "empty map gives the defaults",
		data: map[string]string{},
		want: DefaultDefaults(),
	}, {
		name: "the _example block is ignored",
		data: map[string]string{"_example": "revision-timeout-seconds: \"-1\"\n"},
		want: DefaultDefaults(),
	}, {
		name: "every key set",
		data: allKeys,
		want: &Defaults{
			RevisionTimeoutSeconds:              120,
			MaxRevisionTimeoutSeconds:           900,
			RevisionResponseStartTimeoutSeconds: 60,
			RevisionIdleTimeoutSeconds:          30,
			ContainerConcurrency:                10,
			ContainerConcurrencyMaxLimit:        50,
			AllowContainerConcurrencyZero:       false,
			UserContainerName:                   "app",
			InitContainerName:                   "setup",
			EnableServiceLinks:                  true,
			RevisionCPURequest:                  quantity("250m"),
			RevisionMemoryRequest:               quantity("128Mi"),
			RevisionCPULimit:                    quantity("1"),
			RevisionMemoryLimit:                 quantity("512Mi"),
		},
	}, {
		name: "an empty quantity leaves it unset",
		data: map[string]string{"revision-cpu-request": "", "revision-memory-limit": " "},
		want: DefaultDefaults(),
	}, {
		name: "container names are trimmed",
		data: map[string]string{"container-name-template": " app "},
		want: defaultsWith(func(d *Defaults) { d.UserContainerName = "app" }),
	}, {
		name: "response start timeout may equal the request timeout",
		data: map[string]string{"revision-response-start-timeout-seconds": "300"},
		want: defaultsWith(func(d *Defaults) { d.RevisionResponseStartTimeoutSeconds = 300 }),
	}, {
		name:       "timeout not a number",
		data:       map[string]string{"revision-timeout-seconds": "5m"},
		wantErrKey: "revision-timeout-seconds",
	}, {
		name:       "boolean not a boolean",
		data:       map[string]string{"enable-service-links": "sometimes"},
		wantErrKey: "enable-service-links",
	}, {
		name:       "quantity not a quantity",
		data:       map[string]string{"revision-memory-request": "lots"},
		wantErrKey: "revision-memory-request",
	}, {
		name:       "timeout zero",
		data:       map[string]string{"revision-timeout-seconds": "0"},
		wantErrKey: "revision-timeout-seconds",
	}, {
		name:       "max timeout below timeout",
		data:       map[string]string{"max-revision-timeout-seconds": "299"},
		wantErrKey: "max-revision-timeout-seconds",
	}, {
		name:       "response start timeout negative",
		data:       map[string]string{"revision-response-start-timeout-seconds": "-1"},
		wantErrKey: "revision-response-start-timeout-seconds",
	}, {
		name:       "response start timeout above timeout",
		data:       map[string]string{"revision-response-start-timeout-seconds": "301"},
		wantErrKey: "revision-response-start-timeout-seconds",
	}, {
		name:       "idle timeout negative",
		data:       map[string]string{"revision-idle-timeout-seconds": "-1"},
		wantErrKey: "revision-idle-timeout-seconds",
	}, {
		name:       "idle timeout above max timeout",
		data:       map[string]string{"revision-idle-timeout-seconds": "601"},
		wantErrKey: "revision-idle-timeout-seconds",
	}, {
		name:       "concurrency max limit zero",
		data:       map[string]string{"container-concurrency-max-limit": "0"},
		wantErrKey: "container-concurrency-max-limit",
	}, {
		name:       "concurrency negative",
		data:       map[string]string{"container-concurrency": "-1"},
		wantErrKey: "container-concurrency",
	}, {
		name:       "concurrency above max limit",
		data:       map[string]string{"container-concurrency": "1001"},
		wantErrKey: "container-concurrency",
	}, {
		name:       "concurrency zero while zero is not allowed",
		data:       map[string]string{"allow-container-concurrency-zero": "false"},
		wantErrKey: "container-concurrency",
	}, {
		name:       "container name empty",
		data:       map[string]string{"container-name-template": "  "},
		wantErrKey: "container-name-template",
	}, {
		name:       "init container name empty",
		data:       map[string]string{"init-container-name-template": ""},
		wantErrKey: "init-container-name-template",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewDefaultsFromMap(tt.data)
			if tt.wantErrKey != "" {
				checkErrorNames(t, err, DefaultsConfigName, tt.wantErrKey)
				return
			}
			if err != nil {
				t.Fatalf("NewDefaultsFromMap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewDefaultsFromMap (-want, +got):\n%s", diff)
			}
		})
	}
}

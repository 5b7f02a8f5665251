package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestNewDeploymentFromMap(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    *Deployment
		wantErr string
	}{{
		name: "empty gives the defaults",
		want: DefaultDeployment(),
	}, {
		name: "every key set",
		data: map[string]string{
			"queue-sidecar-image":               "registry.example/queue@sha256:abc",
			"queue-sidecar-cpu-request":         "",
			"queue-sidecar-memory-request":      "32Mi",
			"queue-sidecar-cpu-limit":           "1",
			"queue-sidecar-memory-limit":        "64Mi",
			"queue-sidecar-drain-window":        "10s",
			"progress-deadline":                 "120s",
			"registries-skipping-tag-resolving": " a.local , b.local,",
			"digest-resolution-timeout":         "3s",
		},
		want: &Deployment{
			QueueSidecarImage:              "registry.example/queue@sha256:abc",
			QueueSidecarMemoryRequest:      ptrTo(resource.MustParse("32Mi")),
			QueueSidecarCPULimit:           ptrTo(resource.MustParse("1")),
			QueueSidecarMemoryLimit:        ptrTo(resource.MustParse("64Mi")),
			QueueSidecarDrainWindow:        10 * time.Second,
			ProgressDeadline:               120 * time.Second,
			RegistriesSkippingTagResolving: []string{"a.local", "b.local"},
			DigestResolutionTimeout:        3 * time.Second,
		},
	}, {
		name:    "image empty",
		data:    map[string]string{"queue-sidecar-image": " "},
		wantErr: "queue-sidecar-image",
	}, {
		name:    "quantity unparsable",
		data:    map[string]string{"queue-sidecar-cpu-limit": "lots"},
		wantErr: "queue-sidecar-cpu-limit",
	}, {
		name:    "negative drain window",
		data:    map[string]string{"queue-sidecar-drain-window": "-1s"},
		wantErr: "queue-sidecar-drain-window",
	}, {
		name:    "progress deadline not whole seconds",
		data:    map[string]string{"progress-deadline": "1500ms"},
		wantErr: "progress-deadline",
	}, {
		name:    "digest resolution timeout zero",
		data:    map[string]string{"digest-resolution-timeout": "0s"},
		wantErr: "digest-resolution-timeout",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewDeploymentFromMap(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), DeploymentConfigName) {
					t.Fatalf("err = %v, want one naming %s and %s", err, DeploymentConfigName, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want, +got):\n%s", diff)
			}
		})
	}
}

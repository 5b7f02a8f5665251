package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewGCFromMap(t *testing.T) {
	allKeys := map[string]string{
		"retain-since-create-time":      "24h",
		"retain-since-last-active-time": "disabled",
		"min-non-active-revisions":      "5",
		"max-non-active-revisions":      "Disabled",
	}
	checkCoversKeys(t, allKeys, GCKeys())

	tests := []struct {
		name       string
		data       map[string]string
		want       *GC
		wantErrKey string
	}{{
		name: "empty map gives Knative's defaults",
		data: map[string]string{},
		want: &GC{
			RetainSinceCreateTime:     48 * time.Hour,
			RetainSinceLastActiveTime: 15 * time.Hour,
			MinNonActiveRevisions:     20,
			MaxNonActiveRevisions:     1000,
		},
	}, {
		name: "every key set, disabled in any case",
		data: allKeys,
		want: &GC{
			RetainSinceCreateTime:     24 * time.Hour,
			RetainSinceLastActiveTime: GCDisabled,
			MinNonActiveRevisions:     5,
			MaxNonActiveRevisions:     GCDisabled,
		},
	}, {
		name: "max equal to min",
		data: map[string]string{"min-non-active-revisions": "3", "max-non-active-revisions": "3"},
		want: &GC{
			RetainSinceCreateTime:     48 * time.Hour,
			RetainSinceLastActiveTime: 15 * time.Hour,
			MinNonActiveRevisions:     3,
			MaxNonActiveRevisions:     3,
		},
	}, {
		name:       "duration not a duration",
		data:       map[string]string{"retain-since-create-time": "two days"},
		wantErrKey: "retain-since-create-time",
	}, {
		name:       "negative duration",
		data:       map[string]string{"retain-since-last-active-time": "-1h"},
		wantErrKey: "retain-since-last-active-time",
	}, {
		name:       "min cannot be disabled",
		data:       map[string]string{"min-non-active-revisions": "disabled"},
		wantErrKey: "min-non-active-revisions",
	}, {
		name:       "negative min",
		data:       map[string]string{"min-non-active-revisions": "-2"},
		wantErrKey: "min-non-active-revisions",
	}, {
		name:       "max below min",
		data:       map[string]string{"min-non-active-revisions": "10", "max-non-active-revisions": "5"},
		wantErrKey: "max-non-active-revisions",
	}, {
		name:       "max not a number",
		data:       map[string]string{"max-non-active-revisions": "lots"},
		wantErrKey: "max-non-active-revisions",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewGCFromMap(tt.data)
			if tt.wantErrKey != "" {
				checkErrorNames(t, err, GCConfigName, tt.wantErrKey)
				return
			}
			if err != nil {
				t.Fatalf("NewGCFromMap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewGCFromMap (-want, +got):\n%s", diff)
			}
		})
	}
}

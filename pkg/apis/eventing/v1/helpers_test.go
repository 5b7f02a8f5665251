package v1

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"knative.dev/pkg/apis"
)

// checkErr fails t unless err is nil when want is empty, or err's text
// holds every string of want (field paths, message and the fix offered).
func checkErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Errorf("no error; want one naming %q", want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not name %q:\n%v", w, err)
		}
	}
}

// fieldErr turns a nil *apis.FieldError into a nil error, so that
// checkErr can tell "no error" apart.
func fieldErr(fe *apis.FieldError) error {
	if fe == nil {
		return nil
	}
	return fe
}

// checkCondition compares a condition with want, ignoring when it changed.
func checkCondition(t *testing.T, got *apis.Condition, want apis.Condition) {
	t.Helper()
	if got == nil {
		t.Errorf("condition %s missing", want.Type)
		return
	}
	if diff := cmp.Diff(want, *got, cmpopts.IgnoreFields(apis.Condition{}, "LastTransitionTime")); diff != "" {
		t.Errorf("condition %s (-want, +got):\n%s", want.Type, diff)
	}
}

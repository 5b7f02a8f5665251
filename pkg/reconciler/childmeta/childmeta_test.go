package childmeta

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCarriesAndMerge(t *testing.T) {
	want := metav1.ObjectMeta{Labels: map[string]string{"app": "a"}, Annotations: map[string]string{"note": "n"}}
	have := metav1.ObjectMeta{Labels: map[string]string{"app": "b", "extra": "x"}}
	if Carries(want, have) {
		t.Error("Carries = true for a different label value and a missing annotation")
	}
	Merge(&have, want)
	if !Carries(want, have) {
		t.Errorf("after Merge, Carries = false: %+v", have)
	}
	if diff := cmp.Diff(map[string]string{"app": "a", "extra": "x"}, have.Labels); diff != "" {
		t.Errorf("labels after Merge (-want, +got):\n%s", diff)
	}
}

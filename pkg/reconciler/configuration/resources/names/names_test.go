package names

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

func TestRevision(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct {
		name       string
		config     string
		generation int64
		template   string
		want       string
	}{
		{name: "first generation", config: "hello", generation: 1, want: "hello-00001"},
		{name: "later generation", config: "hello", generation: 42, want: "hello-00042"},
		{name: "more than five digits", config: "hello", generation: 123456, want: "hello-123456"},
		{name: "name chosen in the template", config: "hello", generation: 3, template: "hello-blue", want: "hello-blue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &v1.Configuration{
				ObjectMeta: metav1.ObjectMeta{Name: tt.config, Generation: tt.generation},
				Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Name: tt.template},
				}},
			}
			if got := Revision(cfg); got != tt.want {
				t.Errorf("Revision() = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("long name fits a label and keeps the generation", func(t *testing.T) {
		cfg := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: long, Generation: 7}}
		got := Revision(cfg)
		if len(got) > 63 || !strings.HasSuffix(got, "-00007") {
			t.Errorf("Revision() = %q (%d characters), want at most 63 ending in -00007", got, len(got))
		}
	})
}

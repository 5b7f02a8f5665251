package sourcecmd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestEditOverridesSetsAndRemovesInOrder(t *testing.T) {
	got, err := EditOverrides(map[string]string{"team": "ops", "region": "eu"},
		[]string{"region-", "tier=web", "team=shop", "empty=", "tier-", "tier=api"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "shop", "empty": "", "tier": "api"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EditOverrides (-want, +got):\n%s", diff)
	}
}

func TestEditOverridesRefusesWhatTheAPIWould(t *testing.T) {
	for _, tc := range []struct {
		edit string
		want string
	}{
		{"team", `--ce-override "team": want KEY=VALUE to add the extension attribute KEY to every event, e.g. --ce-override team=shop, or KEY- to remove it`},
		{"=ops", `--ce-override "=ops": the attribute name before = is missing`},
		{"my-ext=x", `--ce-override "my-ext=x": "my-ext" is not an attribute name: CloudEvents attribute names hold only lower-case letters and digits; write it as myext`},
		{"Team-", `--ce-override "Team-": "Team" is not an attribute name`},
		{"--=x", `--ce-override "--=x": "--" is not an attribute name: CloudEvents attribute names hold only lower-case letters and digits`},
	} {
		_, err := EditOverrides(nil, []string{tc.edit})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("EditOverrides(%q) = %v, want an error starting %q", tc.edit, err, tc.want)
		}
	}
}

func TestSourceFlagsApplyOnlyWhatIsGiven(t *testing.T) {
	parse := func(args ...string) *SourceFlags {
		t.Helper()
		var f SourceFlags
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		f.Add(fs, "the source")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return &f
	}
	spec := &duckv1.SourceSpec{
		Sink:                duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Namespace: "demo", Name: "old"}},
		CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "ops"}},
	}
	before := spec.DeepCopy()
	if err := parse().Apply(spec, "demo"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, spec); diff != "" {
		t.Errorf("no flags changed the spec (-want, +got):\n%s", diff)
	}

	// Removing the last override leaves none; a bad sink changes nothing.
	if err := parse("--ce-override", "team-").Apply(spec, "demo"); err != nil {
		t.Fatal(err)
	}
	if spec.CloudEventOverrides != nil {
		t.Errorf("ceOverrides = %+v, want none", spec.CloudEventOverrides)
	}
	if err := parse("--ce-override", "a=b", "--sink", "nope").Apply(spec, "demo"); err == nil {
		t.Error("a bad --sink was taken")
	}
	if spec.CloudEventOverrides != nil {
		t.Errorf("a failed Apply changed the spec: %+v", spec.CloudEventOverrides)
	}
}

package config

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	apisconfig "flywheel.dev/pkg/apis/config"
)

// exampleKey is the data key of a ConfigMap's documentation, which the
// parsers ignore.
const exampleKey = "_example"

// keyLine is a setting in an _example block: an operator copies it into
// data as it stands, so its value must be a quoted string (the API server
// refuses anything else in a ConfigMap), optionally followed by a comment.
var keyLine = regexp.MustCompile(`^[A-Za-z0-9._-]+: "[^"]*"(\s+#.*)?$`)

// shippedConfigMap returns the ConfigMap name of config.Core, decoded
// strictly so that a misspelt field fails here rather than in a cluster.
func shippedConfigMap(t *testing.T, name string) *corev1.ConfigMap {
	t.Helper()
	objs, err := Manifests(Core)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" || o.GetName() != name {
			continue
		}
		cm := &corev1.ConfigMap{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, cm, true); err != nil {
			t.Fatalf("ConfigMap %s: %v", name, err)
		}
		return cm
	}
	t.Fatalf("config/core has no ConfigMap %s", name)
	return nil
}

// exampleSettings returns the settings of an _example block: its comment
// lines dropped, its key lines parsed as YAML. Each key line must follow a
// comment, so that no key goes undocumented.
func exampleSettings(t *testing.T, example string) map[string]string {
	t.Helper()
	var settings []string
	documented := false
	for n, line := range strings.Split(example, "\n") {
		switch line = strings.TrimSpace(line); {
		case line == "":
			documented = false
		case strings.HasPrefix(line, "#"):
			documented = true
		case !keyLine.MatchString(line):
			t.Errorf("_example line %d is neither a comment nor a `key: \"value\"` line: %s", n+1, line)
		default:
			if !documented {
				t.Errorf("_example line %d sets a key with no comment above it: %s", n+1, line)
			}
			settings = append(settings, line)
		}
	}
	got := map[string]string{}
	if err := yaml.UnmarshalStrict([]byte(strings.Join(settings, "\n")), &got); err != nil {
		t.Fatalf("parsing the key lines of _example: %v", err)
	}
	return got
}

// TestConfigMapExamplesMatchDefaults holds the shipped ConfigMaps to the
// code that reads them: each documents exactly the keys its parser knows,
// at the values the parser uses when the key is absent, and sets nothing
// itself, so installing Flywheel changes no default.
func TestConfigMapExamplesMatchDefaults(t *testing.T) {
	tests := []struct {
		name  string
		keys  []string
		parse func(map[string]string) (any, error)
		want  any
	}{{
		name:  apisconfig.DefaultsConfigName,
		keys:  apisconfig.DefaultsKeys(),
		parse: func(data map[string]string) (any, error) { return apisconfig.NewDefaultsFromMap(data) },
		want:  apisconfig.DefaultDefaults(),
	}, {
		name:  apisconfig.FeaturesConfigName,
		keys:  apisconfig.FeaturesKeys(),
		parse: func(data map[string]string) (any, error) { return apisconfig.NewFeaturesFromMap(data) },
		want:  apisconfig.DefaultFeatures(),
	}, {
		name:  apisconfig.AutoscalerConfigName,
		keys:  apisconfig.AutoscalerKeys(),
		parse: func(data map[string]string) (any, error) { return apisconfig.NewAutoscalerFromMap(data) },
		want:  apisconfig.DefaultAutoscaler(),
	}, {
		name:  apisconfig.DeploymentConfigName,
		keys:  apisconfig.DeploymentKeys(),
		parse: func(data map[string]string) (any, error) { return apisconfig.NewDeploymentFromMap(data) },
		want:  apisconfig.DefaultDeployment(),
	}, {
		name:  apisconfig.NetworkConfigName,
		keys:  apisconfig.NetworkKeys(),
		parse: func(data map[string]string) (any, error) { return apisconfig.NewNetworkFromMap(data) },
		want:  apisconfig.DefaultNetwork(),
	}, {
		name:  apisconfig.DomainConfigName,
		keys:  apisconfig.DomainKeys(),
		parse: func(data map[string]string) (any, error) { return apisconfig.NewDomainFromMap(data) },
		want:  apisconfig.DefaultDomainConfig(),
	}, {
		name:  apisconfig.GCConfigName,
		keys:  apisconfig.GCKeys(),
		parse: func(data map[string]string) (any, error) { return apisconfig.NewGCFromMap(data) },
		want:  apisconfig.DefaultGC(),
	}, {
		name:  apisconfig.LeaderElectionConfigName,
		keys:  apisconfig.LeaderElectionKeys(),
		parse: func(data map[string]string) (any, error) { return apisconfig.NewLeaderElectionFromMap(data) },
		want:  apisconfig.DefaultLeaderElection(),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := shippedConfigMap(t, tt.name)
			if cm.Namespace != "flywheel-system" {
				t.Errorf("namespace = %q, want flywheel-system, where the components watch it", cm.Namespace)
			}
			if got := cm.Labels["app.kubernetes.io/name"]; got != "flywheel" {
				t.Errorf("label app.kubernetes.io/name = %q, want flywheel", got)
			}
			var dataKeys []string
			for k := range cm.Data {
				dataKeys = append(dataKeys, k)
			}
			if diff := cmp.Diff([]string{exampleKey}, dataKeys); diff != "" {
				t.Errorf("data keys (-want, +got):\n%s", diff)
			}

			// As shipped, the ConfigMap must parse to the defaults: this is
			// what proves the parser skips the _example block.
			got, err := tt.parse(cm.Data)
			if err != nil {
				t.Fatalf("parsing the shipped ConfigMap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("shipped ConfigMap parsed (-want, +got):\n%s", diff)
			}

			settings := exampleSettings(t, cm.Data[exampleKey])
			var documented []string
			for k := range settings {
				documented = append(documented, k)
			}
			slices.Sort(documented)
			if diff := cmp.Diff(slices.Sorted(slices.Values(tt.keys)), documented); diff != "" {
				t.Errorf("keys in _example against keys the parser knows (-parser, +_example):\n%s", diff)
			}

			got, err = tt.parse(settings)
			if err != nil {
				t.Fatalf("parsing the settings of _example: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("_example settings against the code's defaults (-want, +got):\n%s", diff)
			}
		})
	}
}

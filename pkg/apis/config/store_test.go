package config

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	logtesting "knative.dev/pkg/logging/testing"

	"flywheel.dev/pkg/apis/serving"
)

// configMap is a ConfigMap of the system namespace as the informer
// delivers it.
func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flywheel-system", Name: name},
		Data:       data,
	}
}

// defaultConfig is the configuration in force before any ConfigMap is
// seen.
func defaultConfig() *Config {
	return &Config{
		Defaults:   DefaultDefaults(),
		Features:   DefaultFeatures(),
		Autoscaler: DefaultAutoscaler(),
	}
}

func TestStoreBeforeAnyConfigMapHasDefaults(t *testing.T) {
	s := NewStore(logtesting.TestLogger(t))
	if diff := cmp.Diff(defaultConfig(), s.Load()); diff != "" {
		t.Errorf("Load (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff(defaultConfig(), FromContext(s.ToContext(context.Background()))); diff != "" {
		t.Errorf("FromContext(ToContext) (-want, +got):\n%s", diff)
	}
}

func TestStoreCarriesConfigMapsIntoContext(t *testing.T) {
	var stored []string
	s := NewStore(logtesting.TestLogger(t), func(name string, _ any) {
		stored = append(stored, name)
	})
	s.OnConfigChanged(configMap(DefaultsConfigName, map[string]string{"revision-timeout-seconds": "120"}))
	s.OnConfigChanged(configMap(FeaturesConfigName, map[string]string{"kubernetes.podspec-affinity": "Enabled"}))
	s.OnConfigChanged(configMap(AutoscalerConfigName, map[string]string{"pod-autoscaler-class": serving.HPAClass}))

	want := &Config{
		Defaults:   defaultsWith(func(d *Defaults) { d.RevisionTimeoutSeconds = 120 }),
		Features:   featuresWith(func(f *Features) { f.PodSpecAffinity = Enabled }),
		Autoscaler: autoscalerWith(func(a *Autoscaler) { a.PodAutoscalerClass = serving.HPAClass }),
	}
	ctx := s.ToContext(context.Background())
	if diff := cmp.Diff(want, FromContext(ctx)); diff != "" {
		t.Errorf("FromContext (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, FromContextOrDefaults(ctx)); diff != "" {
		t.Errorf("FromContextOrDefaults (-want, +got):\n%s", diff)
	}
	// The hooks are how a controller learns to resync, so each change
	// must reach them.
	wantStored := []string{DefaultsConfigName, FeaturesConfigName, AutoscalerConfigName}
	if diff := cmp.Diff(wantStored, stored); diff != "" {
		t.Errorf("names passed to onAfterStore (-want, +got):\n%s", diff)
	}
}

func TestStoreKeepsLastGoodConfigOnBadUpdate(t *testing.T) {
	s := NewStore(logtesting.TestLogger(t))
	s.OnConfigChanged(configMap(DefaultsConfigName, map[string]string{"revision-timeout-seconds": "120"}))
	s.OnConfigChanged(configMap(DefaultsConfigName, map[string]string{"revision-timeout-seconds": "-5"}))

	want := defaultsWith(func(d *Defaults) { d.RevisionTimeoutSeconds = 120 })
	if diff := cmp.Diff(want, s.Load().Defaults); diff != "" {
		t.Errorf("Defaults after a bad update (-want, +got):\n%s", diff)
	}
}

func TestFromContext(t *testing.T) {
	if got := FromContext(context.Background()); got != nil {
		t.Errorf("FromContext(empty context) = %+v, want nil", got)
	}
	if diff := cmp.Diff(defaultConfig(), FromContextOrDefaults(context.Background())); diff != "" {
		t.Errorf("FromContextOrDefaults(empty context) (-want, +got):\n%s", diff)
	}

	// A context built by hand, as tests of defaulting and validation do,
	// may carry only the part they care about.
	features := featuresWith(func(f *Features) { f.MultiContainer = Disabled })
	ctx := ToContext(context.Background(), &Config{Features: features})
	want := defaultConfig()
	want.Features = features
	if diff := cmp.Diff(want, FromContextOrDefaults(ctx)); diff != "" {
		t.Errorf("FromContextOrDefaults(partial config) (-want, +got):\n%s", diff)
	}
	if FromContext(ctx).Defaults != nil {
		t.Error("FromContextOrDefaults filled in the Config held by the context; it must copy it")
	}
}

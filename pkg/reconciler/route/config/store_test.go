package config

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	logtesting "knative.dev/pkg/logging/testing"

	apisconfig "flywheel.dev/pkg/apis/config"
)

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "flywheel-system", Name: name}, Data: data}
}

func TestStore(t *testing.T) {
	s := NewStore(logtesting.TestLogger(t))
	want := &Config{
		Network:  apisconfig.DefaultNetwork(),
		Domain:   apisconfig.DefaultDomainConfig(),
		Features: apisconfig.DefaultFeatures(),
	}
	if diff := cmp.Diff(want, FromContext(s.ToContext(context.Background()))); diff != "" {
		t.Errorf("before any ConfigMap (-want, +got):\n%s", diff)
	}

	s.OnConfigChanged(configMap(apisconfig.NetworkConfigName, map[string]string{"default-external-scheme": "https"}))
	s.OnConfigChanged(configMap(apisconfig.DomainConfigName, map[string]string{"apps.example.org": ""}))
	s.OnConfigChanged(configMap(apisconfig.FeaturesConfigName, map[string]string{"tag-header-based-routing": "Disabled"}))
	// A bad update keeps the last good value.
	s.OnConfigChanged(configMap(apisconfig.NetworkConfigName, map[string]string{"default-external-scheme": "gopher"}))

	want.Network.DefaultExternalScheme = "https"
	want.Domain = &apisconfig.Domain{Domains: map[string]map[string]string{"apps.example.org": {}}}
	want.Features.TagHeaderBasedRouting = apisconfig.Disabled
	if diff := cmp.Diff(want, FromContext(s.ToContext(context.Background()))); diff != "" {
		t.Errorf("after the ConfigMaps (-want, +got):\n%s", diff)
	}
}

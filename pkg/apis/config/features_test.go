package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// featuresWith returns DefaultFeatures changed by mutate.
func featuresWith(mutate func(*Features)) *Features {
	f := DefaultFeatures()
	mutate(f)
	return f
}

func TestNewFeaturesFromMap(t *testing.T) {
	allKeys := map[string]string{
		"multi-container":                              "Disabled",
		"kubernetes.podspec-affinity":                  "Enabled",
		"kubernetes.podspec-topologyspreadconstraints": "Allowed",
		"kubernetes.podspec-dnspolicy":                 "Enabled",
		"kubernetes.podspec-dnsconfig":                 "Allowed",
		"kubernetes.podspec-fieldref":                  "Disabled",
		"kubernetes.podspec-hostaliases":               "Enabled",
		"kubernetes.podspec-init-containers":           "Allowed",
		"kubernetes.podspec-nodeselector":              "Enabled",
		"kubernetes.podspec-priorityclassname":         "Allowed",
		"kubernetes.podspec-runtimeclassname":          "Enabled",
		"kubernetes.podspec-schedulername":             "Allowed",
		"kubernetes.podspec-securitycontext":           "Enabled",
		"kubernetes.podspec-shareprocessnamespace":     "Allowed",
		"kubernetes.podspec-tolerations":               "Enabled",
		"kubernetes.podspec-volumes-emptydir":          "Disabled",
		"kubernetes.podspec-persistent-volume-claim":   "Allowed",
		"kubernetes.containerspec-addcapabilities":     "Enabled",
		"tag-header-based-routing":                     "Disabled",
		"secure-pod-defaults":                          "root-allowed",
	}
	checkCoversKeys(t, allKeys, FeaturesKeys())

	tests := []struct {
		name string
		data map[string]string
		want *Features
		// wantErrKey, when set, is the key the error must name.
		wantErrKey string
	}{{
		name: "empty map gives the defaults",
		data: map[string]string{},
		want: DefaultFeatures(),
	}, {
		name: "the _example block is ignored",
		data: map[string]string{"_example": "multi-container: \"Sometimes\"\n"},
		want: DefaultFeatures(),
	}, {
		name: "every key set",
		data: allKeys,
		want: &Features{
			MultiContainer:               Disabled,
			PodSpecAffinity:              Enabled,
			PodSpecTopologySpread:        Allowed,
			PodSpecDNSPolicy:             Enabled,
			PodSpecDNSConfig:             Allowed,
			PodSpecFieldRef:              Disabled,
			PodSpecHostAliases:           Enabled,
			PodSpecInitContainers:        Allowed,
			PodSpecNodeSelector:          Enabled,
			PodSpecPriorityClassName:     Allowed,
			PodSpecRuntimeClassName:      Enabled,
			PodSpecSchedulerName:         Allowed,
			PodSpecSecurityContext:       Enabled,
			PodSpecShareProcessNS:        Allowed,
			PodSpecTolerations:           Enabled,
			PodSpecVolumesEmptyDir:       Disabled,
			PodSpecPersistentVolumeClaim: Allowed,
			ContainerSpecAddCapabilities: Enabled,
			TagHeaderBasedRouting:        Disabled,
			SecurePodDefaults:            RootAllowed,
		},
	}, {
		name: "flag values ignore case",
		data: map[string]string{"kubernetes.podspec-affinity": "enabled", "multi-container": "DISABLED"},
		want: featuresWith(func(f *Features) {
			f.PodSpecAffinity = Enabled
			f.MultiContainer = Disabled
		}),
	}, {
		name: "secure-pod-defaults takes Knative's three levels, in any case",
		data: map[string]string{"secure-pod-defaults": "ENABLED"},
		want: featuresWith(func(f *Features) { f.SecurePodDefaults = Enabled }),
	}, {
		name:       "secure-pod-defaults has no Allowed",
		data:       map[string]string{"secure-pod-defaults": "Allowed"},
		wantErrKey: "secure-pod-defaults",
	}, {
		name:       "root-allowed is secure-pod-defaults' alone",
		data:       map[string]string{"kubernetes.podspec-affinity": "root-allowed"},
		wantErrKey: "kubernetes.podspec-affinity",
	}, {
		name:       "unknown key",
		data:       map[string]string{"kubernetes.podspec-afinity": "Enabled"},
		wantErrKey: "kubernetes.podspec-afinity",
	}, {
		name:       "value not a flag",
		data:       map[string]string{"kubernetes.podspec-tolerations": "true"},
		wantErrKey: "kubernetes.podspec-tolerations",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewFeaturesFromMap(tt.data)
			if tt.wantErrKey != "" {
				checkErrorNames(t, err, FeaturesConfigName, tt.wantErrKey)
				return
			}
			if err != nil {
				t.Fatalf("NewFeaturesFromMap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewFeaturesFromMap (-want, +got):\n%s", diff)
			}
		})
	}
}

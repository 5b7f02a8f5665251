package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// FeaturesConfigName is the ConfigMap switching optional parts of the API
// on and off.
const FeaturesConfigName = "config-features"

// Flag is the state of one feature.
type Flag string

const (
	// Enabled allows the feature everywhere.
	Enabled Flag = "Enabled"
	// Disabled refuses the feature.
	Disabled Flag = "Disabled"
	// Allowed is Knative's third state, for features an object opts in to.
	// The pod spec features treat it as Enabled, as Knative does.
	Allowed Flag = "Allowed"
	// RootAllowed is the middle of secure-pod-defaults' three levels
	// (written root-allowed): the restricted profile's defaults but
	// runAsNonRoot.
	RootAllowed Flag = "RootAllowed"
)

// Features switch on the pod spec fields and behaviours that Knative
// keeps off unless an operator allows them.
type Features struct {
	MultiContainer               Flag
	PodSpecAffinity              Flag
	PodSpecTopologySpread        Flag
	PodSpecDNSPolicy             Flag
	PodSpecDNSConfig             Flag
	PodSpecFieldRef              Flag
	PodSpecHostAliases           Flag
	PodSpecInitContainers        Flag
	PodSpecNodeSelector          Flag
	PodSpecPriorityClassName     Flag
	PodSpecRuntimeClassName      Flag
	PodSpecSchedulerName         Flag
	PodSpecSecurityContext       Flag
	PodSpecShareProcessNS        Flag
	PodSpecTolerations           Flag
	PodSpecVolumesEmptyDir       Flag
	PodSpecPersistentVolumeClaim Flag
	ContainerSpecAddCapabilities Flag
	TagHeaderBasedRouting        Flag
	// SecurePodDefaults is Disabled, RootAllowed or Enabled: how much of
	// Kubernetes' restricted Pod Security Standard the webhook fills in
	// for containers that leave it unset (RevisionSpec.SetDefaults).
	SecurePodDefaults Flag
}

// DefaultFeatures returns the features in force when config-features is
// empty or missing. They follow Knative's defaults: multiple containers,
// fieldRef env, emptyDir volumes, init containers and tag header routing
// on; the rest off.
func DefaultFeatures() *Features {
	return &Features{
		MultiContainer:               Enabled,
		PodSpecAffinity:              Disabled,
		PodSpecTopologySpread:        Disabled,
		PodSpecDNSPolicy:             Disabled,
		PodSpecDNSConfig:             Disabled,
		PodSpecFieldRef:              Enabled,
		PodSpecHostAliases:           Disabled,
		PodSpecInitContainers:        Enabled,
		PodSpecNodeSelector:          Disabled,
		PodSpecPriorityClassName:     Disabled,
		PodSpecRuntimeClassName:      Disabled,
		PodSpecSchedulerName:         Disabled,
		PodSpecSecurityContext:       Disabled,
		PodSpecShareProcessNS:        Disabled,
		PodSpecTolerations:           Disabled,
		PodSpecVolumesEmptyDir:       Enabled,
		PodSpecPersistentVolumeClaim: Disabled,
		ContainerSpecAddCapabilities: Disabled,
		TagHeaderBasedRouting:        Enabled,
		SecurePodDefaults:            Disabled,
	}
}

// The keys of config-features, as Knative spells them.
const (
	FeatureMultiContainer               = "multi-container"
	FeaturePodSpecAffinity              = "kubernetes.podspec-affinity"
	FeaturePodSpecTopologySpread        = "kubernetes.podspec-topologyspreadconstraints"
	FeaturePodSpecDNSPolicy             = "kubernetes.podspec-dnspolicy"
	FeaturePodSpecDNSConfig             = "kubernetes.podspec-dnsconfig"
	FeaturePodSpecFieldRef              = "kubernetes.podspec-fieldref"
	FeaturePodSpecHostAliases           = "kubernetes.podspec-hostaliases"
	FeaturePodSpecInitContainers        = "kubernetes.podspec-init-containers"
	FeaturePodSpecNodeSelector          = "kubernetes.podspec-nodeselector"
	FeaturePodSpecPriorityClassName     = "kubernetes.podspec-priorityclassname"
	FeaturePodSpecRuntimeClassName      = "kubernetes.podspec-runtimeclassname"
	FeaturePodSpecSchedulerName         = "kubernetes.podspec-schedulername"
	FeaturePodSpecSecurityContext       = "kubernetes.podspec-securitycontext"
	FeaturePodSpecShareProcessNS        = "kubernetes.podspec-shareprocessnamespace"
	FeaturePodSpecTolerations           = "kubernetes.podspec-tolerations"
	FeaturePodSpecVolumesEmptyDir       = "kubernetes.podspec-volumes-emptydir"
	FeaturePodSpecPersistentVolumeClaim = "kubernetes.podspec-persistent-volume-claim"
	FeatureContainerSpecAddCapabilities = "kubernetes.containerspec-addcapabilities"
	FeatureTagHeaderBasedRouting        = "tag-header-based-routing"
	FeatureSecurePodDefaults            = "secure-pod-defaults"
)

// Get returns the state of the feature with the given key; an unknown key
// is Disabled.
func (f *Features) Get(key string) Flag {
	if flag, ok := f.featureKeys()[key]; ok {
		return *flag
	}
	return Disabled
}

// featureKeys maps each config-features key to its field.
func (f *Features) featureKeys() map[string]*Flag {
	return map[string]*Flag{
		FeatureMultiContainer:               &f.MultiContainer,
		FeaturePodSpecAffinity:              &f.PodSpecAffinity,
		FeaturePodSpecTopologySpread:        &f.PodSpecTopologySpread,
		FeaturePodSpecDNSPolicy:             &f.PodSpecDNSPolicy,
		FeaturePodSpecDNSConfig:             &f.PodSpecDNSConfig,
		FeaturePodSpecFieldRef:              &f.PodSpecFieldRef,
		FeaturePodSpecHostAliases:           &f.PodSpecHostAliases,
		FeaturePodSpecInitContainers:        &f.PodSpecInitContainers,
		FeaturePodSpecNodeSelector:          &f.PodSpecNodeSelector,
		FeaturePodSpecPriorityClassName:     &f.PodSpecPriorityClassName,
		FeaturePodSpecRuntimeClassName:      &f.PodSpecRuntimeClassName,
		FeaturePodSpecSchedulerName:         &f.PodSpecSchedulerName,
		FeaturePodSpecSecurityContext:       &f.PodSpecSecurityContext,
		FeaturePodSpecShareProcessNS:        &f.PodSpecShareProcessNS,
		FeaturePodSpecTolerations:           &f.PodSpecTolerations,
		FeaturePodSpecVolumesEmptyDir:       &f.PodSpecVolumesEmptyDir,
		FeaturePodSpecPersistentVolumeClaim: &f.PodSpecPersistentVolumeClaim,
		FeatureContainerSpecAddCapabilities: &f.ContainerSpecAddCapabilities,
		FeatureTagHeaderBasedRouting:        &f.TagHeaderBasedRouting,
		FeatureSecurePodDefaults:            &f.SecurePodDefaults,
	}
}

// NewFeaturesFromMap parses the data of config-features. Keys other than
// the known ones are refused, so a misspelt flag is not silently ignored.
func NewFeaturesFromMap(data map[string]string) (*Features, error) {
	f := DefaultFeatures()
	keys := f.featureKeys()
	for k, v := range data {
		if k == "_example" {
			continue
		}
		flag, ok := keys[k]
		if !ok {
			return nil, invalid(FeaturesConfigName, k, "(unknown key)", "remove it or correct its spelling; see the _example block for the known keys")
		}
		parsed, err := parseFlag(k, v)
		if err != nil {
			return nil, err
		}
		*flag = parsed
	}
	return f, nil
}

// parseFlag reads the value of key: Enabled, Disabled or Allowed, in any
// case; secure-pod-defaults has its own three levels instead, spelt as
// Knative documents them.
func parseFlag(key, value string) (Flag, error) {
	flags := []Flag{Enabled, Disabled, Allowed}
	want := "must be Enabled, Disabled or Allowed"
	if key == FeatureSecurePodDefaults {
		flags = []Flag{Enabled, Disabled, RootAllowed}
		want = "must be disabled, root-allowed (the restricted profile's defaults but runAsNonRoot) or enabled"
	}
	for _, flag := range flags {
		if strings.EqualFold(value, string(flag)) || (flag == RootAllowed && strings.EqualFold(value, "root-allowed")) {
			return flag, nil
		}
	}
	return "", invalid(FeaturesConfigName, key, fmt.Sprintf("%q", value), want)
}

// NewFeaturesFromConfigMap parses config-features.
func NewFeaturesFromConfigMap(c *corev1.ConfigMap) (*Features, error) {
	return NewFeaturesFromMap(c.Data)
}

// FeaturesKeys returns the keys config-features understands, sorted, so
// that tests can hold the _example block of the shipped ConfigMap to the
// parser.
func FeaturesKeys() []string {
	return slices.Sorted(maps.Keys(DefaultFeatures().featureKeys()))
}

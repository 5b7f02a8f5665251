// Package vpacrds ships the Vertical Pod Autoscaler's CRDs, version
// v1.7.0, unchanged from k8s.io/autoscaler/vertical-pod-autoscaler, so
// that local mode (and a cluster that wants right-sizing advice) can
// install them beside the recommender that third_party/vpa builds.
//
// The version is the one third_party/vpa/go.mod builds the recommender
// from; the package's test holds the two together.
package vpacrds

import "embed"

// Version is the VPA release the CRDs come from.
const Version = "v1.7.0"

// CRDs holds vpa-v1-crd-gen.yaml at the root of the file system: the
// VerticalPodAutoscalerCheckpoint and VerticalPodAutoscaler CRDs.
// config.Manifests decodes it.
//
//go:embed *.yaml
var CRDs embed.FS

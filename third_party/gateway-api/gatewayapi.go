// Package gatewayapi ships the standard channel of the Gateway API CRDs,
// version v1.6.1, unchanged from sigs.k8s.io/gateway-api, so that a
// cluster or a local control plane without them can have them installed
// beside Flywheel: the Route reconciler writes HTTPRoutes, which the API
// server refuses until the CRDs exist.
//
// The version is the one go.mod requires for the Go types; the package's
// test holds the two together.
package gatewayapi

import "embed"

// CRDs holds the standard channel manifests at the root of the file
// system: one CustomResourceDefinition per file, plus the
// ValidatingAdmissionPolicy and its binding
// (gateway.networking.k8s.io_vap_safeupgrades.yaml) that the channel ships
// to keep experimental CRDs from replacing standard ones by accident.
// config.Manifests decodes it; apply the CRDs first and wait for them to
// be Established before anything writes or watches a Gateway API object.
//
//go:embed *.yaml
var CRDs embed.FS

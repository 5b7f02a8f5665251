//go:build integration

package integration

import (
	"context"
	"testing"

	"flywheel.dev/config"
	"flywheel.dev/pkg/manifest"
)

// TestEveryManifestPassesServerSideDryRunApply checks config/ against the
// real API server's schemas, defaulting and admission, without storing.
func TestEveryManifestPassesServerSideDryRunApply(t *testing.T) {
	objs, err := config.Manifests(config.Core)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) < 10 {
		t.Fatalf("config/core holds %d objects; the embedding lost some", len(objs))
	}
	if err := manifest.Apply(context.Background(), cluster.RESTConfig(), objs, manifest.Options{DryRun: true}); err != nil {
		t.Error(err)
	}
}

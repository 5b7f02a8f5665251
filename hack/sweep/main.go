// Command sweep removes the network namespaces and links that Flywheel's
// sandboxes made and could not remove because their process died (a panic,
// a killed test binary). hack/test.sh runs it after the integration tests.
package main

import "flywheel.dev/pkg/local"

func main() { local.SweepStaleSandboxes() }

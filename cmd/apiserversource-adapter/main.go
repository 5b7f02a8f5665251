// Command apiserversource-adapter watches the Kubernetes objects one
// ApiServerSource names and sends a CloudEvent to its sink for each one
// added, updated or deleted (docs/sources.md). The ApiServerSource
// reconciler runs one as a Deployment per source.
package main

import (
	"os"

	"flywheel.dev/pkg/sources/apiserver/adapter"
)

func main() {
	os.Exit(adapter.Main(os.Args[1:], os.Stderr))
}

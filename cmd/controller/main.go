// Command controller runs Flywheel's reconcilers of the Knative Serving
// and Eventing types (pkg/reconciler.Controllers).
package main

import "flywheel.dev/pkg/reconciler"

func main() { reconciler.Main() }

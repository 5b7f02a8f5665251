// Command controller runs Flywheel's reconcilers of the Knative Serving
// types: Services, Configurations and, as they are added, the rest.
package main

import "flywheel.dev/pkg/reconciler"

func main() { reconciler.Main() }

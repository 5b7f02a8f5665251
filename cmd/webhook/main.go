// Command webhook is Flywheel's admission webhook: defaulting and validation
// of the Knative Serving types and Flywheel's internal types.
package main

import "flywheel.dev/pkg/webhook"

func main() { webhook.Main() }

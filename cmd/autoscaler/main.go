// Command autoscaler scales Revisions: it scrapes the sidecars' load,
// takes the activators' reports, decides replicas for the built-in class
// and serves the load as custom metrics for the HPA class.
package main

import "flywheel.dev/pkg/autoscaler/server"

func main() { server.Main() }

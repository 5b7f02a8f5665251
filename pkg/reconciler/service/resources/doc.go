// Package resources builds the Configuration and Route a Service owns from
// the Service alone; the builders do no I/O so they are tested on their own.
package resources

// Package resources builds the objects a ContainerSource owns: the
// Deployment that runs its template and the SinkBinding that gives the
// Deployment's pods the sink.
package resources

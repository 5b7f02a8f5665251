// Package containersource reconciles ContainerSources: it runs the
// source's pod template as a Deployment and binds that Deployment to the
// source's sink with a SinkBinding, both owned by the source, and reports
// the two on the source's conditions.
package containersource

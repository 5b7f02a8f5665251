// Package eventing is the contract between Flywheel's eventing components
// and whoever builds or calls them: the names of the broker ingress and its
// Service, the paths it serves, and the environment variables by which the
// components find NATS. It holds no runtime: the controller's reconcilers,
// the ingress and the dispatcher import it, and a test holds config/ to it.
package eventing

// Package status computes the status the flywheel gateway writes on
// GatewayClasses, Gateways and HTTPRoutes from what a routing build
// reports. It is pure: the caller decides when to write, which must be
// only after the table the status describes is serving.
package status

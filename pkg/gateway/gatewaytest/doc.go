// Package gatewaytest builds the Gateway API and Kubernetes objects the
// gateway's tests route with, and routing inputs from them.
package gatewaytest

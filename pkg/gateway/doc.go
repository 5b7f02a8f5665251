// Package gateway is the flywheel gateway: a Gateway API data plane for
// the GatewayClasses whose controllerName is flywheel.dev/gateway. It
// watches Gateways, HTTPRoutes, Services and EndpointSlices, builds one
// routing table per Gateway it listens for (package routing), swaps it in
// atomically, serves requests through package proxy (none before the
// first tables are built), and writes status (package status) only once
// the table it describes is serving.
//
// Run is the whole gateway: cmd/gateway calls it through Main, and
// local mode can embed it.
package gateway

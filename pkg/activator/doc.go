// Package activator is the activator's contract with the components that
// speak to it: the name of its Service, its ports and environment, and the
// load reports it sends the autoscaler (StatsPath, StatBatch). It imports
// no runtime, so that the controller and the autoscaler can import it
// without linking the activator itself, which runs from
// pkg/activator/server.
//
// The activator is the hop in a Revision's request path while the Revision
// is at zero or short of capacity: it buffers requests until a pod has
// room, keeps each pod within the Revision's containerConcurrency, wakes
// the autoscaler the moment a request arrives for a Revision with no ready
// pod, and reports the load it carries so that the autoscaler counts it.
package activator

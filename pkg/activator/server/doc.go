// Package server is the activator process: the hop in a Revision's request
// path while the Revision is at zero or short of capacity. It buffers
// requests until a pod has room, keeps each pod within the Revision's
// containerConcurrency, wakes the autoscaler the moment a request arrives
// for a Revision with no ready pod, and reports the load it carries so
// that the autoscaler counts it. What other components need to speak to
// it is its contract, package activator; it runs in pkg/process's shell.
package server

// Package adapter is the PingSource adapter: one process for every
// PingSource in the cluster. It watches PingSources, keeps a schedule for
// each whose sink resolved, and at each tick of a schedule posts the
// source's event to its sink through pkg/sources' Sender.
//
// Several replicas may run; they elect a leader with a Lease, and only the
// leader sends. The Scheduler is told by the election (Lead, Renew,
// Follow) when it may send, and the times it is told come from the Lease
// itself, so that two replicas never send the same tick, whatever their
// clocks say. docs/sources.md explains the guarantees and what happens
// to a tick during a failover.
package adapter

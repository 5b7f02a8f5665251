// Package traffic turns the traffic block of a Route into the Revisions it
// sends traffic to: it resolves each target (a Configuration's latest
// ready Revision, or a named Revision), reports a target that cannot be
// served yet in a way the Route's status can show, merges targets that go
// to the same place, and moves a Configuration target gradually to a new
// Revision when the Route asks for a rollout duration.
//
// It reads Configurations and Revisions through listers and takes the
// time as an argument: it does no I/O and holds no clock, so its tests
// are plain tables.
package traffic

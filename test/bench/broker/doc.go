// Command broker runs the processes a Broker's events cross as separate
// processes on loopback, as their pods run them, so that each one's CPU
// and system calls per event can be measured apart without a cluster:
//
//	broker nats        the NATS server with JetStream on file storage
//	broker ingress     the Broker ingress's server (ingress.NewServer)
//	broker dispatcher  the dispatcher, delivering one Trigger to -sink
//	broker send        posts binary-mode events at -rate for -duration
//
// One Broker, bench/default, and one Trigger whose filter every event
// matches. The subscriber is the e2e benchmark's sink
// (test/e2e/testdata/eventsink). hack/bench-broker.sh builds both, runs
// the parts with the manifests' runtime settings (GOMAXPROCS=1 and
// GODEBUG, unless told otherwise), and prints each process's CPU per
// event from /proc and, with --strace, its system calls per event;
// docs/benchmarks.md holds the figures.
package main

// Package eventload posts CloudEvents to a Broker (or straight to a
// subscriber) at a steady rate, each stamped with its send time, for the
// Broker's benchmarks: the e2e BenchmarkBroker and test/bench/broker send
// the same load.
package eventload

// Package trigger holds `fw trigger`: create, update, list, describe and
// delete the Triggers that deliver a Broker's events to a subscriber, one
// file per verb.
package trigger

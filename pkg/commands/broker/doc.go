// Package broker holds `fw broker`: create, list, describe and delete the
// Brokers that take in CloudEvents and hand them to Triggers, one file
// per verb. Its package delivery holds the sink and delivery flags it
// shares with `fw trigger`.
package broker

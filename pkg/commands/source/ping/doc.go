// Package ping holds `fw source ping`: create, update, list, describe and
// delete PingSources, which send the same event to a sink at every tick
// of a cron schedule, one file per verb.
package ping

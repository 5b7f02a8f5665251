// Package source holds `fw source`: `fw source list` across every kind of
// event source, and a subcommand for each kind (ping, apiserver, binding,
// container), whose verbs live in a package of their own and share
// pkg/commands/source/sourcecmd.
package source

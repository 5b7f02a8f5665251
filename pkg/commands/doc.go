// Package commands is the `fw` command line: the root command and the
// parameters every subcommand shares. Each noun has a package of its own
// (pkg/commands/<noun>) with one file per verb.
package commands

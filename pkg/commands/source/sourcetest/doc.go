// Package sourcetest runs `fw source` commands in tests against a fake
// sources API, with the fixed clock and namespace of commandstest.
package sourcetest

// Command fw is Flywheel's command line: `fw local` runs Flywheel on this
// machine.
package main

import (
	"os"

	"flywheel.dev/pkg/commands"
)

func main() {
	if err := commands.NewRootCommand(commands.NewParams()).Execute(); err != nil {
		os.Exit(1)
	}
}

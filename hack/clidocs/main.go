// Command clidocs writes the reference of every `fw` command as Markdown
// into the directory given as its argument (docs/cmd). hack/update-codegen.sh
// runs it, so the reference cannot drift from the commands.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"flywheel.dev/pkg/commands"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: clidocs <output-dir>")
		os.Exit(2)
	}
	root := commands.NewRootCommand(commands.NewParams())
	// Dates in the pages would make every regeneration a change.
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

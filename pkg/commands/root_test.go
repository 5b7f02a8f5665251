package commands

import (
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryVerbHasAnExample keeps the generated reference useful: each
// command a user runs shows how.
func TestEveryVerbHasAnExample(t *testing.T) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.Example == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCommand(NewParams()))
}

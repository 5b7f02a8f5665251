package main

import "flywheel.dev/test/bench/internal/benchkit"

const commandsUsage = `usage: queue <command> [flags]

commands:
  run       run the benchmark (see run -h)
  app       serve a test app
  baseline  serve the baseline reverse proxy
  load      generate closed-loop load and print the result as JSON
`

func main() {
	commands := benchkit.Parts()
	commands["run"] = runMain
	benchkit.Main("queue", commandsUsage, commands)
}

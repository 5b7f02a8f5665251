package main

import "flywheel.dev/test/bench/internal/benchkit"

const commandsUsage = `usage: node <command> [flags]

commands:
  run       run the benchmark (see run -h); needs root
`

func main() {
	benchkit.Main("node", commandsUsage, map[string]benchkit.Command{"run": runMain})
}

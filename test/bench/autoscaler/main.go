package main

import "flywheel.dev/test/bench/internal/benchkit"

const commandsUsage = `usage: autoscaler <command> [flags]

commands:
  run       run the benchmark (see run -h)
  sidecars  serve the simulated sidecars (the harness starts them)
`

func main() {
	benchkit.Main("autoscaler", commandsUsage, map[string]benchkit.Command{"run": runMain, "sidecars": sidecarsMain})
}

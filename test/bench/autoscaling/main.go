package main

import "flywheel.dev/test/bench/internal/benchkit"

const commandsUsage = `usage: autoscaling <command> [flags]

commands:
  run       run the benchmark (see run -h); needs root
`

func main() {
	benchkit.Main("autoscaling", commandsUsage, map[string]benchkit.Command{"run": runMain})
}

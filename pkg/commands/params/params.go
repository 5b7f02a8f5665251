// Package params holds what every `fw` subcommand shares, so that the noun
// packages need not import each other or the root.
package params

// Params are the settings shared by every subcommand.
type Params struct {
	// Kubeconfig is the kubeconfig file to use; empty means the usual
	// lookup (KUBECONFIG, then the one `fw local up` wrote).
	Kubeconfig string
}

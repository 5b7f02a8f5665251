// Package containerinit is the process node's container init: the node's
// own executable, re-executed with argv[0] Arg0 in a container's new
// namespaces, builds the container's filesystem (a RootPlan), drops
// privileges and execs the container's command. It stays apart from
// package node, and free of dependencies beyond the standard library and
// x/sys/unix, so that its hook runs before the rest of a large binary
// initializes: every container start waits for it.
package containerinit

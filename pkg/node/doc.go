// Package node is Flywheel's process node: a virtual-kubelet provider that
// registers a Node and runs the pods scheduled to it as ordinary processes,
// each pod in a network namespace of its own with a routed veth and an IP
// from the node's pod range, each container in mount, UTS and (with
// cgroups) cgroup namespaces of its own holding the pod's volumes, /tmp,
// /dev and /etc files. Images resolve to executables (ko:// import paths
// are built with go build) or are pulled from registries and run in their
// own root filesystem; probes, restarts and logs follow the kubelet's
// semantics. It is what `fw local` runs instead of a container
// runtime; docs/node.md describes it.
package node

// Package flags turns the flags of `fw service create|update|apply` into
// changes of a Service: the revision template (image, command, env,
// volumes, resources, probes, port, concurrency, labels, annotations,
// name, scale) and the traffic block (tags and percentages). The flags
// and their syntax are kn's. Only the flags a user gave change anything,
// so the same code serves create, update and apply. Every error names the
// flag and says how to fix it, and comes before anything is sent to the
// cluster.
package flags

// Package revision reconciles Revisions: each gets a Deployment whose pods
// carry the app and the queue-proxy sidecar, a PodAutoscaler, a private
// Service selecting its pods and a public Service whose endpoints the
// serverless logic writes. Its status says whether the resources exist and
// the containers came up healthy, and if not, why, in words a user can act
// on.
package revision

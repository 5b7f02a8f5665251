// Package podscale holds what both PodAutoscaler reconcilers do alike:
// count a Revision's ready pods, set a Deployment's scale, and report
// scale and activity in the PodAutoscaler's status.
package podscale

// Package kpa reconciles PodAutoscalers of the built-in class
// (kpa.autoscaling.knative.dev): it keeps a per-Revision loop of the
// autoscaler measuring and deciding, scales the Revision's Deployment to
// each decision, and reports desired and actual scale in the status.
package kpa

// Package hpa reconciles PodAutoscalers of the HPA class
// (hpa.autoscaling.knative.dev): a Kubernetes HorizontalPodAutoscaler
// scales the Revision between one pod and its maximum on the custom
// metrics the autoscaler serves (or cpu/memory), and this reconciler
// owns the step between zero and one, as the built-in class decides it
// from the Revision's requests.
package hpa

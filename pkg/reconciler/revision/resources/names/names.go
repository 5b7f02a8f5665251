// Package names gives the names of the objects a Revision owns, so that
// every reconciler that looks one up spells it the same way.
package names

import "knative.dev/pkg/kmeta"

// Deployment is the name of the Revision's Deployment.
func Deployment(revision string) string { return kmeta.ChildName(revision, "-deployment") }

// PodAutoscaler is the name of the Revision's PodAutoscaler: the
// Revision's own, as Knative names it, so tools that look one up by the
// other find it.
func PodAutoscaler(revision string) string { return revision }

// PublicService is the Service that gateways and the activator send the
// Revision's traffic to. It has the Revision's name, so a Route's backend
// reference is the revision name itself.
func PublicService(revision string) string { return revision }

// PrivateService is the Service that selects the Revision's pods, for the
// autoscaler's scraper and the serverless endpoints logic.
func PrivateService(revision string) string { return kmeta.ChildName(revision, "-private") }

// The names of the request port of the Revision's Services, by the
// protocol the app speaks. The activator's Service names its ports alike,
// and the activator finds a pod's request port by them in the private
// Service's EndpointSlices.
const (
	ServicePortNameHTTP = "http"
	ServicePortNameH2C  = "http2"
)

// VerticalPodAutoscaler is the name of the VPA that advises on the
// Revision's requests: the Revision's own, as the PodAutoscaler's.
func VerticalPodAutoscaler(revision string) string { return revision }

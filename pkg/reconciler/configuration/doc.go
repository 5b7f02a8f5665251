// Package configuration reconciles Knative Configurations: each change of a
// Configuration's template makes one immutable Revision, and the
// Configuration reports its newest Revision (latestCreatedRevisionName) and
// its newest ready one (latestReadyRevisionName), which is where a Route
// that follows the Configuration sends traffic.
//
// A Revision belongs to the generation of the Configuration it was made
// for (the configurationGeneration label), so the reconciler finds it again
// by that label and never makes two for one template. While the newest
// Revision is not ready, latestReadyRevisionName stays on the last ready
// one, or moves forward to a newer one that became ready meanwhile; it
// never moves back, except when the Revision it names is deleted.
package configuration

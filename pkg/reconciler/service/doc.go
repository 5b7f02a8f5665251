// Package service reconciles Knative Services: each Service owns a
// Configuration and a Route of its own name, kept equal to the Service's
// template and traffic, and reports their status as its own.
//
// Status follows what Knative users see. ConfigurationsReady and
// RoutesReady mirror the children's Ready conditions, but only once a child
// has observed its latest spec; until then the condition is Unknown with
// reason OutOfDate, so a Service never reports Ready for a template or
// traffic block it has not rolled out. And when the Configuration has a
// newer ready revision than the one the Route serves where the Service
// asked for the latest (during a rollout, or between the Configuration's
// and the Route's reconciliation), RoutesReady is Unknown with reason
// TrafficNotMigrated: `kubectl wait --for=condition=Ready` after an update
// then returns only once requests reach the new revision.
package service

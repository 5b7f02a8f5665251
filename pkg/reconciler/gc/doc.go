// Package gc deletes the Revisions of a Configuration that no longer
// serve and are not needed to go back to, within the bounds of config-gc.
//
// A Revision is active while a Route sends it traffic (routingState
// active, or a routes annotation), while it is its Configuration's latest
// created or latest ready Revision, or while it carries
// serving.knative.dev/no-gc: "true"; an active Revision is never deleted.
// Of the others, the most recently active min-non-active-revisions are
// kept; the rest go once they are older than retain-since-create-time and
// idle longer than retain-since-last-active-time; and beyond
// max-non-active-revisions the least recently active go regardless. The
// decision is a pure function of the Revisions and the time (Collect).
package gc

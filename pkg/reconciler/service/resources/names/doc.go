// Package names holds the names of the objects a Service owns, so that the
// reconciler and anything that looks those objects up agree on them.
package names

// Package names holds the names of the Revisions a Configuration makes, so
// that the reconciler and anything that looks them up agree on them.
package names

// Package revision holds `fw revision`: list, describe and delete the
// Revisions that Services make, one file per verb.
package revision

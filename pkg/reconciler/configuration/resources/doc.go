// Package resources builds the Revision a Configuration makes from its
// template; the builder does no I/O so it is tested on its own.
package resources

// Package names gives the names of the objects a Route owns, so that every
// piece of code that looks one up spells it the same way.
package names

// Package scaling decides how many pods a Revision of the built-in class
// wants, from the load measured over its stable and panic windows and
// the time now. It does no I/O and reads no clock, so that every rule
// (panic mode, rate limits, bounds, scale-down delay, scale to zero) is
// tested as a scenario on a timeline (testdata/*.scenario).
package scaling

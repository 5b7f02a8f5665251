// Package wait waits, by watching the API, until a Service is Ready at the
// generation a command wrote, or until an object is gone; and explains a
// failure with the reason and message of the conditions that failed.
package wait

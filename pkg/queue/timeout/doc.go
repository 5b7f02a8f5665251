// Package timeout bounds a request three ways: as a whole (the revision
// timeout), until the app starts its response, and between two writes of
// the response. The one that fires answers 504 saying which it was, or,
// when the response has already begun, aborts the stream so the client
// cannot mistake a cut response for a complete one.
package timeout

// Package timeout bounds a request three ways: the wait for the app to
// start its response (the revision timeout, Knative's timeoutSeconds, and
// the response-start timeout), and the gap between two writes of the
// response (the idle timeout). A response that has started is never cut
// for its length alone. The one that fires answers 504 saying which it
// was, or, when the response has already begun (idle only), aborts the
// stream so the client cannot mistake a cut response for a complete one.
package timeout

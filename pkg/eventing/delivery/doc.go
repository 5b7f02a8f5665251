// Package delivery sends one event to one subscriber the way a Trigger's
// DeliverySpec asks: in CloudEvents HTTP binary mode, retried with backoff
// on the failures the Knative Eventing data-plane contract calls
// retryable, and handed to the dead-letter sink, with the knativeerrordest,
// knativeerrorcode and knativeerrordata extensions, once every attempt
// failed.
//
// The package does no I/O of its own beyond the *http.Client it is given
// (or, given none, the lean HTTP/1.1 client of package http1 for http://
// subscribers, which wakes no goroutine of its own per request) and
// waits on the clock it is given, so the Broker's dispatcher owns the
// stored message: Deliver returns an Outcome that says whether to ack it
// (Delivered, DeadLettered), terminate it (Dropped) or leave it for
// JetStream to redeliver (Unsent).
//
// Facts from the data-plane contract (knative/specs,
// specs/eventing/data-plane.md) and the Knative delivery documentation
// that this package follows:
//
//   - Retryable: a network error, a timed-out attempt, 404, 409, 429, any
//     5xx, and any code outside 100–599. Not retried: 400, every other 4xx,
//     1xx and 3xx (redirects are not followed). Every 2xx completes the
//     delivery.
//   - Only a 200 may carry a reply event, in binary or structured mode; a
//     202 (or another 2xx) is never processed as a reply. The request to a
//     subscriber says "Prefer: reply"; the one to a dead-letter sink does
//     not, and its reply is ignored.
//   - Backoff: linear waits backoffDelay × n before retry n, exponential
//     backoffDelay × 2^n (see Params.Backoff).
//   - Dead-letter extensions: knativeerrordest is the URL that failed,
//     knativeerrorcode the last HTTP status (an Int; left out when no
//     response came back), knativeerrordata the start of the last response
//     body (see ErrorDataLimit), base64-encoded as Knative's own
//     dispatchers send it, so that any bytes make a valid String.
//   - Binary mode header values are percent-encoded as the CloudEvents
//     HTTP binding (1.0.2, section 3.1.3.2) requires, and decoded the same
//     way when a reply arrives.
package delivery

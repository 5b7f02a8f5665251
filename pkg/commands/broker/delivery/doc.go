// Package delivery turns the flags that say where events go, and how,
// into the eventing API's types: --sink and --dl-sink into Destinations,
// and --retry, --backoff-policy, --backoff-delay and --timeout into a
// DeliverySpec. `fw broker` and `fw trigger` share it, and it shows those
// types back in the same words for their describe verbs. Every error
// names the flag and says how to fix it, before anything is sent.
package delivery

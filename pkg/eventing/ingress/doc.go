// Package ingress is the Broker ingress: the HTTP handler where producers
// post CloudEvents to a Broker. One Deployment serves every Broker, each
// at its own path, POST /<namespace>/<broker-name>, and answers 202 only
// once the Publisher has stored the event (in NATS JetStream); any
// request it cannot store is answered with a status that tells the
// sender whether to retry.
//
// It follows the Knative Eventing data-plane contract and the Broker
// specification (knative/specs, specs/eventing/data-plane.md and
// broker.md) over the CloudEvents 1.0 HTTP protocol binding, binary and
// structured content modes, CloudEvents 1.0 and 0.3. Answers:
//
//	202 the event is stored
//	400 the request is not a valid CloudEvent; the plain-text body says why
//	404 the path is not /<namespace>/<broker-name>, or names no Broker
//	405 a method other than POST (and OPTIONS) on a Broker's path
//	413 the body is longer than Options.MaxEventBytes
//	415 a batch (application/cloudevents-batch+json) or an unknown event format
//	503 the event could not be stored, with Retry-After
//
// OPTIONS on a Broker's path answers the abuse-protection handshake of
// the CloudEvents HTTP webhook specification, granting every origin.
//
// The event is stored as it arrived: every attribute and extension, its
// specversion (never upgraded, as the Broker specification asks) and its
// data bytes. The ingress adds nothing to it: neither specification asks
// for the knativearrivaltime extension that Knative's own ingress adds,
// and the Broker travels beside the event, as Publish's argument, rather
// than in an extension a producer could forge.
//
// Probes have their own paths, HealthPath and ReadyPath, which have one
// segment and so can never be a Broker's path.
package ingress

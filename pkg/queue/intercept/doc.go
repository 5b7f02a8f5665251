// Package intercept puts the queue-proxy in front of the app's own port in
// transparent mode: it installs the iptables rules that redirect the pod's
// inbound TCP for that port to the sidecar's intercept port (`queue
// iptables`, run by an init container with NET_ADMIN), and it wraps the
// intercept port's listener so that every accepted connection carries the
// destination its client asked for (SO_ORIGINAL_DST).
//
// # Rules
//
// Everything lives in two chains of the nat table that belong to this
// package, so that installing flushes and refills them and removing deletes
// them without touching anyone else's rules:
//
//   - FLYWHEEL_INBOUND redirects TCP for the app's port to the intercept
//     port. PREROUTING jumps to it, for connections from outside the pod.
//   - FLYWHEEL_OUTPUT sees the pod's own connections. It returns early for
//     the sidecar's uid and for loopback destinations, and sends the rest
//     to FLYWHEEL_INBOUND, so that a container that reaches the app through
//     the pod's IP goes through the sidecar as an outside client would.
//
// The jumps from the built-in chains are added last, so traffic is diverted
// only once the chains are complete. Only IPv4 is redirected: IPv6
// connections to the app's port reach the app directly.
//
// # Why the sidecar is excluded by uid
//
// The sidecar's own connections to the app must not be redirected back to
// itself. Two marks can tell them apart: the socket's owner (`-m owner
// --uid-owner`) or a socket mark (SO_MARK, matched with `-m mark`). This
// package uses the owner. Setting SO_MARK needs CAP_NET_ADMIN in the
// sidecar itself, for its whole life, and every dialer in it (proxy,
// readiness probe, anything added later) would have to remember to set the
// mark; a missed one loops. The uid needs no capability at run time and
// covers every socket the process opens: the pod spec runs the sidecar as
// queue.SidecarUID, and the init container, which alone holds NET_ADMIN,
// writes that uid into the rule. Loopback destinations are excluded as
// well, because the sidecar dials the app on 127.0.0.1 and because an app
// calling itself on localhost must not queue behind its own request.
//
// # Listener
//
// Listener reads each accepted connection's original destination with
// getsockopt(SOL_IP, SO_ORIGINAL_DST) and refuses connections it cannot
// serve: those whose original destination is the intercept port itself
// (nothing redirected them, so forwarding them would only loop a client
// back into the sidecar) and those without one. Refusals close the
// connection, are logged and counted, and never stop the server. ConnContext
// and FromContext carry the destination into each request's context.
package intercept

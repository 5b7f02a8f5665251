package intercept

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// The nat table's chains this package owns. Nothing else may add rules to
// them: installing flushes them and removing deletes them.
const (
	// InboundChain redirects TCP for the app's port to the intercept
	// port. PREROUTING and OutputChain jump to it.
	InboundChain = "FLYWHEEL_INBOUND"
	// OutputChain filters the pod's own connections (OUTPUT jumps to it)
	// before they reach InboundChain.
	OutputChain = "FLYWHEEL_OUTPUT"
)

// table is the only iptables table the rules touch.
const table = "nat"

// loopback is the IPv4 loopback range, whose destinations are never
// redirected.
const loopback = "127.0.0.0/8"

// Options describes the interception of one pod.
type Options struct {
	// AppPort is the app's port, which clients keep using.
	AppPort int
	// InterceptPort is the sidecar's port the connections are redirected
	// to (queue.InterceptPort by default in `queue iptables`).
	InterceptPort int
	// ExcludeUID is the uid whose connections are never redirected: the
	// sidecar's (queue.SidecarUID). A negative value excludes no uid;
	// loopback destinations are still excluded.
	ExcludeUID int
}

// Validate reports what is wrong with o, all problems at once.
func (o Options) Validate() error {
	var errs []error
	if !validPort(o.AppPort) {
		errs = append(errs, fmt.Errorf("app port %d is not a TCP port (1-65535)", o.AppPort))
	}
	if !validPort(o.InterceptPort) {
		errs = append(errs, fmt.Errorf("intercept port %d is not a TCP port (1-65535)", o.InterceptPort))
	}
	if o.ExcludeUID > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("uid %d is out of range", o.ExcludeUID))
	}
	if o.AppPort == o.InterceptPort {
		errs = append(errs, fmt.Errorf("app port and intercept port are both %d: the sidecar would redirect to itself", o.AppPort))
	}
	return errors.Join(errs...)
}

func validPort(p int) bool { return p > 0 && p <= 65535 }

// Rules returns the iptables argument lists that Install runs, in order,
// once it has removed any earlier installation: the chains first, then the
// jumps from the built-in chains, so that no packet is diverted into a
// half-built chain. o must be valid.
func Rules(o Options) [][]string {
	app, to := strconv.Itoa(o.AppPort), strconv.Itoa(o.InterceptPort)
	rules := [][]string{
		nat("-N", InboundChain),
		nat("-A", InboundChain, "-p", "tcp", "--dport", app, "-j", "REDIRECT", "--to-ports", to),
		nat("-N", OutputChain),
	}
	// The owner match is only valid on locally generated packets, which
	// is why the exclusion has a chain of its own that only OUTPUT reaches.
	if o.ExcludeUID >= 0 {
		rules = append(rules, nat("-A", OutputChain, "-m", "owner", "--uid-owner", strconv.Itoa(o.ExcludeUID), "-j", "RETURN"))
	}
	rules = append(rules,
		nat("-A", OutputChain, "-d", loopback, "-j", "RETURN"),
		nat("-A", OutputChain, "-j", InboundChain),
	)
	for _, j := range jumps {
		rules = append(rules, j.rule("-A"))
	}
	return rules
}

// jump is a rule this package adds to a built-in chain: all TCP goes to
// one of its own chains, which does the matching. Jumps do not depend on
// Options, so Remove finds them whatever ports they were installed with.
type jump struct{ from, to string }

var jumps = []jump{
	{from: "PREROUTING", to: InboundChain},
	{from: "OUTPUT", to: OutputChain},
}

// rule returns the argument list that applies op (-A, -D) to the jump.
func (j jump) rule(op string) []string {
	return nat(op, j.from, "-p", "tcp", "-j", j.to)
}

// ownChains lists the chains in the order Remove flushes and deletes them:
// a chain after the chains that jump to it.
var ownChains = []string{OutputChain, InboundChain}

func nat(args ...string) []string { return append([]string{"-t", table}, args...) }

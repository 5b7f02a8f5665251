package intercept

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs iptables with args (without the binary's name). It returns a
// *CommandError when iptables ran and failed, so that Remove can tell "no
// such rule" (exit status 1) from a real failure.
type Runner func(ctx context.Context, args ...string) error

// IPTables is the Runner of `queue iptables`: it runs the iptables binary
// found on PATH, with -w so that it waits for the xtables lock instead of
// failing while another process holds it. ctx bounds that wait.
func IPTables(ctx context.Context, args ...string) error {
	path, err := exec.LookPath("iptables")
	if err != nil {
		return &CommandError{Code: -1, Err: err}
	}
	cmd := exec.CommandContext(ctx, path, append([]string{"-w"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err == nil {
		return nil
	}
	ce := &CommandError{Code: -1, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		ce.Code = exitErr.ExitCode()
	}
	if cerr := ctx.Err(); cerr != nil {
		ce.Err = fmt.Errorf("%w: %w", cerr, err)
	}
	return ce
}

// CommandError is a failed run of iptables.
type CommandError struct {
	// Code is iptables' exit status: 1 for a rule or chain that does not
	// exist, 4 for a resource problem such as a missing permission; -1
	// when iptables did not run or was killed.
	Code int
	// Stderr is what iptables printed, trimmed.
	Stderr string
	// Err is the underlying error, from os/exec.
	Err error
}

// Error returns the failure and what iptables said about it.
func (e *CommandError) Error() string {
	if e.Stderr == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Stderr
}

// Unwrap returns the underlying error.
func (e *CommandError) Unwrap() error { return e.Err }

// notFound reports whether err says that the rule or chain asked about
// does not exist.
func notFound(err error) bool {
	var ce *CommandError
	return errors.As(err, &ce) && ce.Code == 1
}

// Install installs the rules of o (see Rules), replacing any earlier
// installation, so running it twice leaves the same rules as running it
// once. run nil means IPTables. A failure may leave part of the rules in
// place; the next Install or Remove clears them.
func Install(ctx context.Context, o Options, run Runner) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("invalid interception options: %w", err)
	}
	if run == nil {
		run = IPTables
	}
	if err := Remove(ctx, run); err != nil {
		return fmt.Errorf("removing earlier rules: %w", err)
	}
	for _, args := range Rules(o) {
		if err := run(ctx, args...); err != nil {
			return ruleError(args, err)
		}
	}
	return nil
}

// maxJumps bounds the deletion of duplicate jumps, which only a race
// between two installs could leave.
const maxJumps = 8

// Remove deletes the jumps from the built-in chains and the chains of this
// package, whatever options they were installed with; what is already gone
// is no error. run nil means IPTables.
func Remove(ctx context.Context, run Runner) error {
	if run == nil {
		run = IPTables
	}
	present := make(map[string]bool, len(ownChains))
	for _, c := range ownChains {
		ok, err := try(ctx, run, nat("-S", c))
		if err != nil {
			return err
		}
		present[c] = ok
	}
	for _, j := range jumps {
		// iptables refuses a jump to a chain that does not exist, so
		// there is nothing to delete when the chain is missing.
		if !present[j.to] {
			continue
		}
		for range maxJumps {
			deleted, err := try(ctx, run, j.rule("-D"))
			if err != nil {
				return err
			}
			if !deleted {
				break
			}
		}
	}
	// Flush every chain before deleting any: a chain that another one
	// still jumps to cannot be deleted.
	for _, op := range []string{"-F", "-X"} {
		for _, c := range ownChains {
			if !present[c] {
				continue
			}
			args := nat(op, c)
			if err := run(ctx, args...); err != nil {
				return ruleError(args, err)
			}
		}
	}
	return nil
}

// try runs args and reports whether iptables succeeded; "does not exist"
// is false without an error.
func try(ctx context.Context, run Runner, args []string) (bool, error) {
	err := run(ctx, args...)
	switch {
	case err == nil:
		return true, nil
	case notFound(err):
		return false, nil
	default:
		return false, ruleError(args, err)
	}
}

// ruleError names the iptables command that failed and, where the failure
// is a familiar one, what to do about it.
func ruleError(args []string, err error) error {
	cmd := "iptables " + strings.Join(args, " ")
	if h := hint(err); h != "" {
		return fmt.Errorf("%s: %w (%s)", cmd, err, h)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

func hint(err error) string {
	var ce *CommandError
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return "iptables is not on PATH: install the iptables package in the image, e.g. apt-get install iptables"
	case errors.Is(err, context.DeadlineExceeded):
		return "iptables did not finish in time: another process may hold the xtables lock"
	case !errors.As(err, &ce):
		return ""
	case containsAny(ce.Stderr, "Permission denied", "Operation not permitted", "you must be root"):
		return "needs NET_ADMIN: run the init container as root with securityContext.capabilities.add: [NET_ADMIN]"
	case containsAny(ce.Stderr, "table '"+table+"' does not exist", "can't initialize iptables table `"+table+"'", "Table does not exist"):
		return "the kernel has no nat table: the node needs the iptable_nat or nft_chain_nat module"
	case containsAny(ce.Stderr, "Couldn't load", "RULE_APPEND failed", "No chain/target/match"):
		return "the kernel may lack an extension the rule uses: xt_REDIRECT, xt_owner or xt_tcpudp"
	}
	return ""
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

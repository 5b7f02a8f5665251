package intercept

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// fakeIPTables is a small model of the nat table, enough to check what
// Install and Remove leave behind: chains with their rules, and the exit
// statuses iptables gives for what does not exist.
type fakeIPTables struct {
	chains map[string][]string // chain → rules, each its spec joined by spaces
	calls  []string
	// fail, when it returns an error, makes the call fail with it.
	fail func(args []string) error
}

func newFakeIPTables() *fakeIPTables {
	return &fakeIPTables{chains: map[string][]string{"PREROUTING": nil, "INPUT": nil, "OUTPUT": nil, "POSTROUTING": nil}}
}

func exit(code int, stderr string) error {
	return &CommandError{Code: code, Stderr: stderr, Err: fmt.Errorf("exit status %d", code)}
}

func (f *fakeIPTables) run(_ context.Context, args ...string) error {
	f.calls = append(f.calls, strings.Join(args, " "))
	if f.fail != nil {
		if err := f.fail(args); err != nil {
			return err
		}
	}
	if len(args) < 4 || args[0] != "-t" || args[1] != "nat" {
		return exit(2, "fake: want -t nat OP CHAIN ...")
	}
	op, chain, spec := args[2], args[3], strings.Join(args[4:], " ")
	rules, exists := f.chains[chain]
	if !exists && op != "-N" {
		return exit(1, "iptables: No chain/target/match by that name.")
	}
	switch op {
	case "-N":
		if exists {
			return exit(1, "iptables: Chain already exists.")
		}
		f.chains[chain] = nil
	case "-A":
		if i := slices.Index(args, "-j"); i >= 0 && strings.HasPrefix(args[i+1], "FLYWHEEL_") {
			if _, ok := f.chains[args[i+1]]; !ok {
				return exit(2, "iptables: Chain '"+args[i+1]+"' does not exist")
			}
		}
		f.chains[chain] = append(rules, spec)
	case "-D":
		i := slices.Index(rules, spec)
		if i < 0 {
			return exit(1, "iptables: Bad rule (does a matching rule exist in that chain?).")
		}
		f.chains[chain] = slices.Delete(rules, i, i+1)
	case "-S":
	case "-F":
		f.chains[chain] = nil
	case "-X":
		for c, rs := range f.chains {
			for _, r := range rs {
				if strings.HasSuffix(r, "-j "+chain) {
					return exit(4, "iptables: CHAIN_DEL failed (Device or resource busy): chain "+chain+" (jumped to from "+c+")")
				}
			}
		}
		delete(f.chains, chain)
	default:
		return errors.New("fake: unknown operation " + op)
	}
	return nil
}

// state returns every chain with its rules, one line each, sorted, in the
// shape of iptables -S.
func (f *fakeIPTables) state() []string {
	var out []string
	for c, rs := range f.chains {
		out = append(out, "-N "+c)
		for _, r := range rs {
			out = append(out, "-A "+c+" "+r)
		}
	}
	slices.Sort(out)
	return out
}

package intercept

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want []string
	}{{
		name: "the sidecar's defaults",
		opts: Options{AppPort: 8080, InterceptPort: 8013, ExcludeUID: 1337},
		want: []string{
			"-t nat -N FLYWHEEL_INBOUND",
			"-t nat -A FLYWHEEL_INBOUND -p tcp --dport 8080 -j REDIRECT --to-ports 8013",
			"-t nat -N FLYWHEEL_OUTPUT",
			"-t nat -A FLYWHEEL_OUTPUT -m owner --uid-owner 1337 -j RETURN",
			"-t nat -A FLYWHEEL_OUTPUT -d 127.0.0.0/8 -j RETURN",
			"-t nat -A FLYWHEEL_OUTPUT -j FLYWHEEL_INBOUND",
			"-t nat -A PREROUTING -p tcp -j FLYWHEEL_INBOUND",
			"-t nat -A OUTPUT -p tcp -j FLYWHEEL_OUTPUT",
		},
	}, {
		name: "other ports and uid",
		opts: Options{AppPort: 3000, InterceptPort: 15001, ExcludeUID: 0},
		want: []string{
			"-t nat -N FLYWHEEL_INBOUND",
			"-t nat -A FLYWHEEL_INBOUND -p tcp --dport 3000 -j REDIRECT --to-ports 15001",
			"-t nat -N FLYWHEEL_OUTPUT",
			"-t nat -A FLYWHEEL_OUTPUT -m owner --uid-owner 0 -j RETURN",
			"-t nat -A FLYWHEEL_OUTPUT -d 127.0.0.0/8 -j RETURN",
			"-t nat -A FLYWHEEL_OUTPUT -j FLYWHEEL_INBOUND",
			"-t nat -A PREROUTING -p tcp -j FLYWHEEL_INBOUND",
			"-t nat -A OUTPUT -p tcp -j FLYWHEEL_OUTPUT",
		},
	}, {
		name: "no uid excluded: loopback still is",
		opts: Options{AppPort: 8080, InterceptPort: 8013, ExcludeUID: -1},
		want: []string{
			"-t nat -N FLYWHEEL_INBOUND",
			"-t nat -A FLYWHEEL_INBOUND -p tcp --dport 8080 -j REDIRECT --to-ports 8013",
			"-t nat -N FLYWHEEL_OUTPUT",
			"-t nat -A FLYWHEEL_OUTPUT -d 127.0.0.0/8 -j RETURN",
			"-t nat -A FLYWHEEL_OUTPUT -j FLYWHEEL_INBOUND",
			"-t nat -A PREROUTING -p tcp -j FLYWHEEL_INBOUND",
			"-t nat -A OUTPUT -p tcp -j FLYWHEEL_OUTPUT",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range Rules(tc.opts) {
				got = append(got, strings.Join(r, " "))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Rules(%+v) (-want, +got):\n%s", tc.opts, diff)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want []string // substrings of the error; none for valid options
	}{{
		name: "valid",
		opts: Options{AppPort: 8080, InterceptPort: 8013, ExcludeUID: 1337},
	}, {
		name: "no uid excluded",
		opts: Options{AppPort: 8080, InterceptPort: 8013, ExcludeUID: -1},
	}, {
		name: "no app port",
		opts: Options{InterceptPort: 8013},
		want: []string{"app port 0 is not a TCP port"},
	}, {
		name: "ports out of range, both reported",
		opts: Options{AppPort: 65536, InterceptPort: -1},
		want: []string{"app port 65536 is not a TCP port", "intercept port -1 is not a TCP port"},
	}, {
		name: "redirect to itself",
		opts: Options{AppPort: 8013, InterceptPort: 8013},
		want: []string{"both 8013"},
	}, {
		name: "uid out of range",
		opts: Options{AppPort: 8080, InterceptPort: 8013, ExcludeUID: 1 << 32},
		want: []string{"uid 4294967296 is out of range"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

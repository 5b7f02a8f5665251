package flags

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// strictContext is what --security-context strict sets.
func strictContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

func TestSecurityContextFlag(t *testing.T) {
	withContext := func(sc *corev1.SecurityContext) func(*servingv1.Service) {
		return withContainer(func(c *corev1.Container) { c.SecurityContext = sc })
	}
	for _, tc := range []struct {
		name string
		// newDefault is NewSecurityContext: strict for create and apply.
		newDefault string
		in         *servingv1.Service
		args       []string
		want       *servingv1.Service
		wantErr    []string
	}{{
		name:       "a new Service gets strict unless told",
		newDefault: SecurityContextStrict,
		in:         service(),
		want:       service(withContext(strictContext())),
	}, {
		name:       "the default leaves a security context the Service has alone",
		newDefault: SecurityContextStrict,
		in:         service(withContext(&corev1.SecurityContext{RunAsUser: ptr.To[int64](1001)})),
		want:       service(withContext(&corev1.SecurityContext{RunAsUser: ptr.To[int64](1001)})),
	}, {
		name: "update applies nothing unless told",
		in:   service(),
		want: service(),
	}, {
		name: "strict, in any case, keeps the rest of the security context",
		in:   service(withContext(&corev1.SecurityContext{RunAsUser: ptr.To[int64](1001)})),
		args: []string{"--security-context", "STRICT"},
		want: service(withContext(func() *corev1.SecurityContext {
			sc := strictContext()
			sc.RunAsUser = ptr.To[int64](1001)
			return sc
		}())),
	}, {
		name: "none takes back what strict set, and only that",
		in: service(withContext(func() *corev1.SecurityContext {
			sc := strictContext()
			sc.RunAsUser = ptr.To[int64](1001)
			return sc
		}())),
		args: []string{"--security-context", "none"},
		want: service(withContext(&corev1.SecurityContext{RunAsUser: ptr.To[int64](1001)})),
	}, {
		name: "none leaves no empty security context behind",
		in:   service(withContext(strictContext())),
		args: []string{"--security-context", "none"},
		want: service(),
	}, {
		name:       "root asked for on a new Service with none",
		newDefault: SecurityContextStrict,
		in:         service(),
		args:       []string{"--security-context", "none", "--user", "0"},
		want:       service(withContext(&corev1.SecurityContext{RunAsUser: ptr.To[int64](0)})),
	}, {
		name:       "root under the default strict names the way out",
		newDefault: SecurityContextStrict,
		in:         service(),
		args:       []string{"--user", "0"},
		wantErr:    []string{"--user 0", "--security-context strict", "add --security-context none"},
	}, {
		name:    "root on a Service that strict made non-root, on update",
		in:      service(withContext(strictContext())),
		args:    []string{"--user", "0"},
		wantErr: []string{"--user 0", "runAsNonRoot: true", "add --security-context none"},
	}, {
		name: "root with strict taken back in the same command",
		in:   service(withContext(strictContext())),
		args: []string{"--security-context", "none", "--user", "0"},
		want: service(withContext(&corev1.SecurityContext{RunAsUser: ptr.To[int64](0)})),
	}, {
		name:    "an unknown level",
		in:      service(),
		args:    []string{"--security-context", "restricted"},
		wantErr: []string{`--security-context "restricted"`, "want strict", "or none"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
			f := ServiceFlags{PodFlags: PodFlags{NewSecurityContext: tc.newDefault}}
			f.Add(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatalf("parsing %v: %v", tc.args, err)
			}
			got := tc.in.DeepCopy()
			err := f.Apply(got)
			if tc.wantErr != nil {
				for _, w := range tc.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("Apply(%v) = %v, want it to say %q", tc.args, err, w)
					}
				}
				if diff := cmp.Diff(tc.in, got); diff != "" {
					t.Errorf("Apply changed the Service although it failed (-want, +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply(%v) = %v", tc.args, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Apply(%v) (-want, +got):\n%s", tc.args, diff)
			}
		})
	}
}

package election

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	fakekube "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/leaderelection"
	pkgreconciler "knative.dev/pkg/reconciler"

	"flywheel.dev/config"
	apisconfig "flywheel.dev/pkg/apis/config"
)

const (
	systemNamespace = "flywheel-system"
	// queue names the reconciler under test; its lease follows.
	queue = "test-queue"
	lease = "controller.test-queue.00-of-01"
	// electionTimeout bounds the wait for a leader: well under the
	// default lease of 15 s, so that a test passes only if no one waited
	// a lease out.
	electionTimeout = 5 * time.Second
)

func TestLeaderElectionConfig(t *testing.T) {
	tests := []struct {
		name       string
		objects    []runtime.Object
		want       *apisconfig.LeaderElection
		wantErrKey string
	}{{
		name: "no ConfigMap: the defaults",
		want: apisconfig.DefaultLeaderElection(),
	}, {
		name: "the ConfigMap's settings",
		objects: []runtime.Object{&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: apisconfig.LeaderElectionConfigName, Namespace: systemNamespace},
			Data:       map[string]string{"lease-duration": "30s", "renew-deadline": "20s", "retry-period": "4s"},
		}},
		want: &apisconfig.LeaderElection{LeaseDuration: 30 * time.Second, RenewDeadline: 20 * time.Second, RetryPeriod: 4 * time.Second, Buckets: 1},
	}, {
		name: "a setting client-go would refuse: refused at start, naming the key",
		objects: []runtime.Object{&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: apisconfig.LeaderElectionConfigName, Namespace: systemNamespace},
			Data:       map[string]string{"lease-duration": "5s"},
		}},
		wantErrKey: "lease-duration",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, err := WithLeaderElection(t.Context(), fakekube.NewClientset(tt.objects...), systemNamespace, "controller", "")
			if tt.wantErrKey != "" {
				if err == nil || !strings.Contains(err.Error(), `"`+tt.wantErrKey+`"`) {
					t.Fatalf("WithLeaderElection: error %v, want one naming %q", err, tt.wantErrKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &leaderelection.Config{
				Buckets: tt.want.Buckets, LeaseDuration: tt.want.LeaseDuration,
				RenewDeadline: tt.want.RenewDeadline, RetryPeriod: tt.want.RetryPeriod,
			}
			if diff := cmp.Diff(want, leaderelection.GetConfig(ctx)); diff != "" {
				t.Errorf("leader election config (-want, +got):\n%s", diff)
			}
			if !leaderelection.HasLeaderElection(ctx) || !sharedmain.IsHADisabled(ctx) {
				t.Error("want an elector builder of ours in the context, and sharedmain told to keep it")
			}
		})
	}
}

// TestRestartedInItsPodLeadsAtOnce is the controller SIGKILLed and
// restarted in its pod: the lease it held is still valid, and the new
// process, holding it under the same identity, leads at once instead of
// waiting the lease out.
func TestRestartedInItsPodLeadsAtOnce(t *testing.T) {
	t.Setenv("SYSTEM_NAMESPACE", systemNamespace)
	kc := fakekube.NewClientset(heldLease("flywheel-controller-7d9f-abcde", time.Now()))

	promoted, _ := runElector(t.Context(), t, kc, "flywheel-controller-7d9f-abcde")
	select {
	case <-promoted:
	case <-time.After(electionTimeout):
		t.Fatalf("the restarted controller did not lead within %v of a lease it held itself", electionTimeout)
	}
}

// TestCleanShutdownReleasesTheLease: a controller stopped by a signal
// leaves its lease free, so a successor (another pod: another identity)
// leads at once.
func TestCleanShutdownReleasesTheLease(t *testing.T) {
	t.Setenv("SYSTEM_NAMESPACE", systemNamespace)
	kc := fakekube.NewClientset()

	ctx, stop := context.WithCancel(t.Context())
	promoted, done := runElector(ctx, t, kc, "flywheel-controller-7d9f-abcde")
	select {
	case <-promoted:
	case <-time.After(electionTimeout):
		t.Fatal("the first controller did not lead an empty cluster")
	}
	stop()
	<-done

	l, err := kc.CoordinationV1().Leases(systemNamespace).Get(t.Context(), lease, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if holder := ptr.Deref(l.Spec.HolderIdentity, ""); holder != "" {
		t.Errorf("lease holder after a clean shutdown = %q, want none", holder)
	}

	promoted, _ = runElector(t.Context(), t, kc, "flywheel-controller-7d9f-fghij")
	select {
	case <-promoted:
	case <-time.After(electionTimeout):
		t.Fatalf("the successor did not lead within %v of a released lease", electionTimeout)
	}
}

// TestPodsNameTheirIdentity holds the Deployment of every component that
// elects leaders to PodNameEnv: without it the identity is new at each
// start and a restart waits out the dead process's lease.
func TestPodsNameTheirIdentity(t *testing.T) {
	for _, file := range []string{"core/500-controller.yaml", "core/500-autoscaler.yaml", "core/500-webhook.yaml"} {
		t.Run(file, func(t *testing.T) {
			b, err := config.Core.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			docs, err := config.Manifests(fstest.MapFS{file: {Data: b}})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range docs {
				if o.GetKind() != "Deployment" {
					continue
				}
				var d appsv1.Deployment
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
					t.Fatal(err)
				}
				want := corev1.EnvVar{Name: PodNameEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}
				c := d.Spec.Template.Spec.Containers[0]
				for _, env := range c.Env {
					if env.Name == PodNameEnv {
						if diff := cmp.Diff(want, env); diff != "" {
							t.Errorf("env %s of container %s (-want, +got):\n%s", PodNameEnv, c.Name, diff)
						}
						return
					}
				}
				t.Errorf("container %s has no env %s", c.Name, PodNameEnv)
				return
			}
			t.Errorf("%s has no Deployment", file)
		})
	}
}

// heldLease is the lease of the reconciler under test, held by holder
// and last renewed at renewed, for the default duration.
func heldLease(holder string, renewed time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: lease, Namespace: systemNamespace},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(holder),
			LeaseDurationSeconds: ptr.To(int32(apisconfig.DefaultLeaderElection().LeaseDuration / time.Second)),
			AcquireTime:          &metav1.MicroTime{Time: renewed.Add(-time.Hour)},
			RenewTime:            &metav1.MicroTime{Time: renewed},
		},
	}
}

// runElector runs, until ctx ends, the elector Main's wiring builds for a
// reconciler as the process identity. promoted is closed when it leads;
// done when it has stopped, its lease released.
func runElector(ctx context.Context, t *testing.T, kc kubernetes.Interface, identity string) (promoted, done <-chan struct{}) {
	t.Helper()
	ctx, err := WithLeaderElection(ctx, kc, systemNamespace, "controller", identity)
	if err != nil {
		t.Fatal(err)
	}
	p, d := make(chan struct{}), make(chan struct{})
	var once sync.Once
	la := &pkgreconciler.LeaderAwareFuncs{
		PromoteFunc: func(pkgreconciler.Bucket, func(pkgreconciler.Bucket, types.NamespacedName)) error {
			once.Do(func() { close(p) })
			return nil
		},
	}
	le, err := leaderelection.BuildElector(ctx, la, queue, func(pkgreconciler.Bucket, types.NamespacedName) {})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d)
		le.Run(ctx)
	}()
	// The test's context ends before its cleanups run: the elector stops.
	t.Cleanup(func() { <-d })
	return p, d
}

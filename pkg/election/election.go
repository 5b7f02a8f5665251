package election

import (
	"context"
	"fmt"
	"os"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/leaderelection"
	"knative.dev/pkg/system"

	apisconfig "flywheel.dev/pkg/apis/config"
)

// PodNameEnv is the variable through which the Deployments of the
// components that elect leaders (controller, autoscaler, webhook) give the
// process its pod's name, the identity it holds its leases under.
const PodNameEnv = "POD_NAME"

// ForProcess is WithLeaderElection as a component's main wants it: in the
// system namespace, under the pod's name from PodNameEnv, with a lease
// client of its own that has no client-side rate limit (lease traffic is
// bounded by the retry period, and a renewal must not queue behind a
// burst of reconciling).
func ForProcess(ctx context.Context, cfg *rest.Config, component string) (context.Context, error) {
	leaseCfg := rest.CopyConfig(cfg)
	leaseCfg.QPS = -1
	kc, err := kubernetes.NewForConfig(leaseCfg)
	if err != nil {
		return nil, err
	}
	return WithLeaderElection(ctx, kc, system.Namespace(), component, os.Getenv(PodNameEnv))
}

// WithLeaderElection makes the controllers of ctx, those of the process
// component, elect leaders with config-leader-election from namespace
// and, when identity is not empty, hold their leases under it.
//
// The identity is the pod's name so that a container restarted in its pod
// (after a crash, a SIGKILL, a failed liveness probe) finds the leases
// still held by itself and takes them at once, where a fresh identity
// would wait out the dead holder's lease. That is safe because a pod's
// name is one live pod's at a time and the kubelet starts a container
// again only once the previous one has exited: two processes never hold
// one identity at once. Without an identity each controller makes a
// unique one, as knative.dev/pkg does.
//
// A clean shutdown releases the leases in either case: knative.dev/pkg's
// elector is built with ReleaseOnCancel, and the controllers wait for it
// before the process exits.
func WithLeaderElection(ctx context.Context, kc kubernetes.Interface, namespace, component, identity string) (context.Context, error) {
	le, err := leaderElectionConfig(ctx, kc, namespace)
	if err != nil {
		return nil, err
	}
	cfg := &leaderelection.Config{
		Buckets:       le.Buckets,
		LeaseDuration: le.LeaseDuration,
		RenewDeadline: le.RenewDeadline,
		RetryPeriod:   le.RetryPeriod,
	}
	cc := cfg.GetComponentConfig(component)
	cc.Identity = identity
	ctx = leaderelection.WithConfig(ctx, cfg)
	ctx = leaderelection.WithDynamicLeaderElectorBuilder(ctx, kc, cc)
	// sharedmain would otherwise replace the elector builder above with
	// one of its own, which has no identity; "HA disabled" only means
	// that it leaves the builder of ctx alone.
	return sharedmain.WithHADisabled(ctx), nil
}

// leaderElectionConfig reads config-leader-election; without it, the
// defaults apply.
func leaderElectionConfig(ctx context.Context, kc kubernetes.Interface, namespace string) (*apisconfig.LeaderElection, error) {
	cm, err := kc.CoreV1().ConfigMaps(namespace).Get(ctx, apisconfig.LeaderElectionConfigName, metav1.GetOptions{})
	if apierrs.IsNotFound(err) {
		return apisconfig.DefaultLeaderElection(), nil
	} else if err != nil {
		return nil, fmt.Errorf("reading %s: %w", apisconfig.LeaderElectionConfigName, err)
	}
	return apisconfig.NewLeaderElectionFromConfigMap(cm)
}

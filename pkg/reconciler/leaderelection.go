package reconciler

import (
	"context"
	"fmt"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/leaderelection"

	apisconfig "flywheel.dev/pkg/apis/config"
)

// PodNameEnv is the variable through which the controller's Deployment
// gives the process its pod's name (config/core/500-controller.yaml), the
// identity it holds its leases under.
const PodNameEnv = "POD_NAME"

// withLeaderElection makes the controllers of ctx elect leaders with
// config-leader-election from namespace and, when identity is not empty,
// hold their leases under it.
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
func withLeaderElection(ctx context.Context, kc kubernetes.Interface, namespace, identity string) (context.Context, error) {
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
	cc := cfg.GetComponentConfig(Component)
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

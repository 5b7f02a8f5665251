package reconciler

import (
	"log"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"
	"knative.dev/pkg/system"

	"flywheel.dev/pkg/reconciler/configuration"
	"flywheel.dev/pkg/reconciler/gc"
	"flywheel.dev/pkg/reconciler/revision"
	"flywheel.dev/pkg/reconciler/route"
	"flywheel.dev/pkg/reconciler/serverlessservice"
	"flywheel.dev/pkg/reconciler/service"
)

// Component names the controller process in its logs, metrics and leader
// election leases.
const Component = "controller"

// Controllers returns the constructors of every controller the controller
// process runs, each with its informers, config store and event handlers.
// A new reconciler is added here and nowhere else.
func Controllers() []injection.ControllerConstructor {
	return []injection.ControllerConstructor{
		service.NewController,
		configuration.NewController,
		revision.NewController,
		route.NewController,
		gc.NewController,
		serverlessservice.NewController,
	}
}

// Main runs the controllers until the process is signalled, electing a
// leader among replicas (see withLeaderElection). It takes the standard
// knative.dev/pkg flags (--kubeconfig, --server).
func Main() {
	cfg := injection.ParseAndGetRESTConfigOrDie()
	// The leases get a client of their own without a client-side rate
	// limit: their traffic is bounded by the retry period, and a renewal
	// must not queue behind a burst of reconciling.
	leaseCfg := rest.CopyConfig(cfg)
	leaseCfg.QPS = -1
	ctx := signals.NewContext()
	ctx, err := withLeaderElection(ctx, kubernetes.NewForConfigOrDie(leaseCfg), system.Namespace(), os.Getenv(PodNameEnv))
	if err != nil {
		log.Fatal("Setting up leader election: ", err)
	}
	sharedmain.MainWithConfig(ctx, Component, cfg, Controllers()...)
}

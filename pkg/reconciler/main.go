package reconciler

import (
	"log"

	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"

	"flywheel.dev/pkg/election"
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
// leader among replicas (see election.WithLeaderElection). It takes the standard
// knative.dev/pkg flags (--kubeconfig, --server).
func Main() {
	cfg := injection.ParseAndGetRESTConfigOrDie()
	ctx, err := election.ForProcess(signals.NewContext(), cfg, Component)
	if err != nil {
		log.Fatal("Setting up leader election: ", err)
	}
	sharedmain.MainWithConfig(ctx, Component, cfg, Controllers()...)
}

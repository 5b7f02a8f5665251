package reconciler

import (
	"log"

	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"
	"knative.dev/pkg/system"

	"flywheel.dev/pkg/election"
	"flywheel.dev/pkg/reconciler/apiserversource"
	"flywheel.dev/pkg/reconciler/broker"
	"flywheel.dev/pkg/reconciler/configuration"
	"flywheel.dev/pkg/reconciler/containersource"
	"flywheel.dev/pkg/reconciler/gc"
	"flywheel.dev/pkg/reconciler/pingsource"
	"flywheel.dev/pkg/reconciler/revision"
	"flywheel.dev/pkg/reconciler/route"
	"flywheel.dev/pkg/reconciler/serverlessservice"
	"flywheel.dev/pkg/reconciler/service"
	"flywheel.dev/pkg/reconciler/sinkbinding"
	"flywheel.dev/pkg/reconciler/trigger"
)

// Component names the controller process in its logs, metrics and leader
// election leases.
const Component = "controller"

// Controllers returns the constructors of every controller the controller
// process runs (Serving's and Eventing's), each with its informers, config store and event handlers.
// A new reconciler is added here and nowhere else.
func Controllers() []injection.ControllerConstructor {
	return []injection.ControllerConstructor{
		service.NewController,
		configuration.NewController,
		revision.NewController,
		route.NewController,
		gc.NewController,
		serverlessservice.NewController,
		broker.NewController,
		trigger.NewController,
		apiserversource.NewController,
		pingsource.NewController,
		sinkbinding.NewController,
		containersource.NewController,
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
	if ctx, err = withJetStream(ctx, cfg, system.Namespace()); err != nil {
		log.Fatal("Setting up NATS JetStream: ", err)
	}
	sharedmain.MainWithConfig(ctx, Component, cfg, Controllers()...)
}

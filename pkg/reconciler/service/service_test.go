package service

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgotesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	rtesting "knative.dev/pkg/reconciler/testing"

	"flywheel.dev/pkg/apis/config"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	servicereconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/service"
	"flywheel.dev/pkg/reconciler/service/resources"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

const (
	testNamespace = "demo"
	testName      = "hello"
	testKey       = testNamespace + "/" + testName
)

// service is the Service of most rows at generation 1, stored through the
// API (so with the webhook's defaults), with opts applied after.
func service(opts ...fwtesting.ServiceOption) *v1.Service {
	return fwtesting.Service(testName, testNamespace, append([]fwtesting.ServiceOption{
		fwtesting.WithServiceGeneration(1), fwtesting.WithServiceDefaults,
	}, opts...)...)
}

// configFor is the Configuration svc wants, as the reconciler sees svc:
// defaulted.
func configFor(svc *v1.Service, opts ...fwtesting.ConfigurationOption) *v1.Configuration {
	svc = svc.DeepCopy()
	svc.SetDefaults(context.Background())
	cfg := resources.MakeConfiguration(svc)
	for _, opt := range opts {
		opt(cfg)
	}
	return cfg
}

// routeFor is the Route svc wants.
func routeFor(svc *v1.Service, opts ...fwtesting.RouteOption) *v1.Route {
	svc = svc.DeepCopy()
	svc.SetDefaults(context.Background())
	route := resources.MakeRoute(svc)
	for _, opt := range opts {
		opt(route)
	}
	return route
}

// readyConfig is a Configuration at generation 1 whose revision
// hello-00001 is ready.
func readyConfig(svc *v1.Service, opts ...fwtesting.ConfigurationOption) *v1.Configuration {
	return configFor(svc, append([]fwtesting.ConfigurationOption{
		fwtesting.WithConfigGeneration(1), fwtesting.WithConfigObservedGeneration,
		fwtesting.WithConfigReady("hello-00001"),
	}, opts...)...)
}

// readyRoute is a Route at generation 1 that serves hello-00001 as the
// latest revision.
func readyRoute(svc *v1.Service, opts ...fwtesting.RouteOption) *v1.Route {
	return routeFor(svc, append([]fwtesting.RouteOption{
		fwtesting.WithRouteGeneration(1), fwtesting.WithRouteObservedGeneration,
		fwtesting.WithRouteReady, fwtesting.WithStatusTraffic(latestServes("hello-00001", 100)),
	}, opts...)...)
}

func latestServes(revision string, percent int64) v1.TrafficTarget {
	return v1.TrafficTarget{RevisionName: revision, LatestRevision: ptr.To(true), Percent: ptr.To(percent)}
}

// status is the Service as the reconciler writes its status: observed at
// its generation, conditions initialized, then opts.
func status(svc *v1.Service, opts ...fwtesting.ServiceOption) *v1.Service {
	svc = svc.DeepCopy()
	for _, opt := range append([]fwtesting.ServiceOption{
		fwtesting.WithServiceObservedGeneration, fwtesting.WithServiceInitConditions,
	}, opts...) {
		opt(svc)
	}
	return svc
}

// observedGenerationFailed is what the generated reconciler leaves on
// Ready when a pass over a new generation ends before setting any
// condition.
func observedGenerationFailed(svc *v1.Service) {
	svc.GetConditionSet().Manage(&svc.Status).MarkUnknown(v1.ServiceConditionReady,
		"NewObservedGenFailure", "unsuccessfully observed a new generation")
}

func objects(objs ...runtime.Object) []runtime.Object { return objs }

func normal(reason, format string, args ...any) string {
	return rtesting.Eventf(corev1.EventTypeNormal, reason, format, args...)
}

func warning(reason, format string, args ...any) string {
	return rtesting.Eventf(corev1.EventTypeWarning, reason, format, args...)
}

func TestReconcile(t *testing.T) {
	svc := service()
	svcV2 := service(fwtesting.WithServiceGeneration(2), fwtesting.WithServiceImage("registry.example/hello:v2"))
	undefaulted := fwtesting.Service(testName, testNamespace, fwtesting.WithServiceGeneration(1))
	svcLabelled := service(fwtesting.WithServiceLabels(map[string]string{"team": "blue"}))
	svcCanary := service(fwtesting.WithServiceGeneration(2), fwtesting.WithServiceTraffic(
		v1.TrafficTarget{RevisionName: "hello-00001", Percent: ptr.To[int64](90), Tag: "stable"},
		v1.TrafficTarget{LatestRevision: ptr.To(true), Percent: ptr.To[int64](10), Tag: "canary"},
	))
	foreign := fwtesting.Service("someone-else", testNamespace)

	table := rtesting.TableTest{{
		Name: "key of a deleted Service: nothing to do, owner references clean up",
		Key:  testKey,
	}, {
		Name: "Service being deleted: nothing to do, owner references clean up",
		Key:  testKey,
		Objects: objects(
			service(fwtesting.WithServiceDeletionTimestamp),
			readyConfig(svc), readyRoute(svc),
		),
	}, {
		Name:        "new Service creates its Configuration and Route",
		Key:         testKey,
		Objects:     objects(svc),
		WantCreates: objects(configFor(svc), routeFor(svc)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svc,
			fwtesting.WithServiceConfigurationStatus(configFor(svc)),
			fwtesting.WithServiceRouteStatus(routeFor(svc)),
		)}},
		WantEvents: []string{
			normal(ReasonCreated, "Created Configuration %q", testName),
			normal(ReasonCreated, "Created Route %q", testName),
		},
	}, {
		Name:    "Service stored without defaults sends all traffic to the latest revision",
		Key:     testKey,
		Objects: objects(undefaulted),
		WantCreates: objects(configFor(undefaulted), routeFor(undefaulted, fwtesting.WithRouteTraffic(v1.TrafficTarget{
			ConfigurationName: testName, LatestRevision: ptr.To(true), Percent: ptr.To[int64](100),
		}))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(undefaulted,
			fwtesting.WithServiceConfigurationStatus(configFor(undefaulted)),
			fwtesting.WithServiceRouteStatus(routeFor(undefaulted)),
		)}},
		WantEvents: []string{
			normal(ReasonCreated, "Created Configuration %q", testName),
			normal(ReasonCreated, "Created Route %q", testName),
		},
	}, {
		Name:    "children ready: Service becomes Ready with the Route's URL and traffic",
		Key:     testKey,
		Objects: objects(svc, readyConfig(svc), readyRoute(svc)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svc,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svc)),
			fwtesting.WithServiceRouteStatus(readyRoute(svc)),
		)}},
	}, {
		Name: "everything in line: no writes",
		Key:  testKey,
		Objects: objects(
			status(svc,
				fwtesting.WithServiceConfigurationStatus(readyConfig(svc)),
				fwtesting.WithServiceRouteStatus(readyRoute(svc))),
			readyConfig(svc), readyRoute(svc),
		),
	}, {
		Name: "latest revision not ready yet: ConfigurationsReady Unknown",
		Key:  testKey,
		Objects: objects(svc, readyRoute(svc), configFor(svc,
			fwtesting.WithConfigGeneration(1), fwtesting.WithConfigObservedGeneration,
			fwtesting.WithConfigInitConditions, fwtesting.WithLatestCreated("hello-00001"))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svc,
			fwtesting.WithServiceConfigurationStatus(configFor(svc,
				fwtesting.WithConfigInitConditions, fwtesting.WithLatestCreated("hello-00001"))),
			fwtesting.WithServiceRouteStatus(readyRoute(svc)),
			// The Route serves hello-00001 as latest, but it is not the
			// latest ready revision: there is none yet.
			fwtesting.WithServiceRouteNotYetReady,
		)}},
	}, {
		Name: "latest revision failed: ConfigurationsReady False with the revision's message",
		Key:  testKey,
		Objects: objects(svcV2, readyRoute(svcV2), readyConfig(svcV2,
			fwtesting.WithConfigGeneration(2), fwtesting.WithConfigObservedGeneration,
			fwtesting.WithLatestCreated("hello-00002"),
			fwtesting.WithLatestCreatedFailed("hello-00002", "image not found"))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svcV2,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svcV2,
				fwtesting.WithLatestCreated("hello-00002"),
				fwtesting.WithLatestCreatedFailed("hello-00002", "image not found"))),
			fwtesting.WithServiceRouteStatus(readyRoute(svcV2)),
		)}},
	}, {
		Name: "route not served by the gateway yet: RoutesReady Unknown",
		Key:  testKey,
		Objects: objects(svc, readyConfig(svc), routeFor(svc,
			fwtesting.WithRouteGeneration(1), fwtesting.WithRouteObservedGeneration,
			fwtesting.WithRouteIngressNotReady("Pending", "waiting for the gateway"))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svc,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svc)),
			fwtesting.WithServiceRouteStatus(routeFor(svc,
				fwtesting.WithRouteIngressNotReady("Pending", "waiting for the gateway"))),
		)}},
	}, {
		Name: "children have not observed their latest spec: both conditions OutOfDate",
		Key:  testKey,
		Objects: objects(svc,
			readyConfig(svc, fwtesting.WithConfigGeneration(2)),
			readyRoute(svc, fwtesting.WithRouteGeneration(2))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svc,
			fwtesting.WithServiceConfigurationNotReconciled,
			fwtesting.WithServiceRouteNotReconciled,
		)}},
	}, {
		Name: "route still serves the previous revision: RoutesReady Unknown TrafficNotMigrated",
		Key:  testKey,
		Objects: objects(svcV2,
			readyConfig(svcV2, fwtesting.WithConfigGeneration(2), fwtesting.WithConfigObservedGeneration,
				fwtesting.WithConfigReady("hello-00002")),
			readyRoute(svcV2)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svcV2,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svcV2, fwtesting.WithConfigReady("hello-00002"))),
			fwtesting.WithServiceRouteStatus(readyRoute(svcV2)),
			fwtesting.WithServiceRouteNotYetReady,
		)}},
	}, {
		Name: "gradual rollout in progress: RoutesReady Unknown until all latest traffic moved",
		Key:  testKey,
		Objects: objects(svcV2,
			readyConfig(svcV2, fwtesting.WithConfigGeneration(2), fwtesting.WithConfigObservedGeneration,
				fwtesting.WithConfigReady("hello-00002")),
			readyRoute(svcV2, fwtesting.WithStatusTraffic(
				latestServes("hello-00001", 60), latestServes("hello-00002", 40)))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svcV2,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svcV2, fwtesting.WithConfigReady("hello-00002"))),
			fwtesting.WithServiceRouteStatus(readyRoute(svcV2, fwtesting.WithStatusTraffic(
				latestServes("hello-00001", 60), latestServes("hello-00002", 40)))),
			fwtesting.WithServiceRouteNotYetReady,
		)}},
	}, {
		Name:    "template changed: the Configuration is updated",
		Key:     testKey,
		Objects: objects(svcV2, readyConfig(svc), readyRoute(svc)),
		WantUpdates: []clientgotesting.UpdateActionImpl{{
			Object: readyConfig(svc, fwtesting.WithConfigImage("registry.example/hello:v2")),
		}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svcV2,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svc)),
			fwtesting.WithServiceRouteStatus(readyRoute(svc)),
		)}},
		WantEvents: []string{normal(ReasonUpdated, "Updated Configuration %q", testName)},
	}, {
		Name:    "traffic changed: the Route is updated, pinned and latest targets",
		Key:     testKey,
		Objects: objects(svcCanary, readyConfig(svc), readyRoute(svc)),
		WantUpdates: []clientgotesting.UpdateActionImpl{{
			Object: readyRoute(svc, fwtesting.WithRouteTraffic(
				v1.TrafficTarget{RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](90), Tag: "stable"},
				v1.TrafficTarget{ConfigurationName: testName, LatestRevision: ptr.To(true), Percent: ptr.To[int64](10), Tag: "canary"},
			)),
		}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svcCanary,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svc)),
			fwtesting.WithServiceRouteStatus(readyRoute(svc)),
		)}},
		WantEvents: []string{normal(ReasonUpdated, "Updated Route %q", testName)},
	}, {
		Name: "labels follow the Service: a label added to a child by hand is removed",
		Key:  testKey,
		Objects: objects(svcLabelled,
			readyConfig(svcLabelled, fwtesting.WithConfigLabels(map[string]string{
				"team": "red", "serving.knative.dev/service": testName,
			})),
			readyRoute(svcLabelled)),
		WantUpdates: []clientgotesting.UpdateActionImpl{{Object: readyConfig(svcLabelled)}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svcLabelled,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svcLabelled)),
			fwtesting.WithServiceRouteStatus(readyRoute(svcLabelled)),
		)}},
		WantEvents: []string{normal(ReasonUpdated, "Updated Configuration %q", testName)},
	}, {
		Name: "the Route reconciler's routes annotation on the Configuration is kept",
		Key:  testKey,
		Objects: objects(
			status(svc,
				fwtesting.WithServiceConfigurationStatus(readyConfig(svc)),
				fwtesting.WithServiceRouteStatus(readyRoute(svc))),
			readyConfig(svc, func(cfg *v1.Configuration) {
				cfg.Annotations["serving.knative.dev/routes"] = testName
			}),
			readyRoute(svc)),
	}, {
		Name: "a config-defaults change does not rewrite the children",
		Key:  testKey,
		Objects: objects(
			fwtesting.ConfigMap(config.DefaultsConfigName, map[string]string{
				"revision-cpu-request": "100m",
				"enable-service-links": "true",
			}),
			status(svc,
				fwtesting.WithServiceConfigurationStatus(readyConfig(svc)),
				fwtesting.WithServiceRouteStatus(readyRoute(svc))),
			readyConfig(svc), readyRoute(svc)),
	}, {
		Name:    "Configuration of the Service's name owned by another object: NotOwned, no retry",
		Key:     testKey,
		Objects: objects(svc, readyConfig(svc, fwtesting.WithConfigOwner(foreign))),
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svc,
			fwtesting.WithServiceConfigurationNotOwned,
		)}},
		WantEvents: []string{warning(ReasonNotOwned,
			"Configuration %q exists and is controlled by another object; delete it or give the Service another name", testName)},
	}, {
		Name:    "Route of the Service's name not controlled by anything: NotOwned, no retry",
		Key:     testKey,
		Objects: objects(svc, readyConfig(svc), readyRoute(svc, func(r *v1.Route) { r.OwnerReferences = nil })),
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svc,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svc)),
			fwtesting.WithServiceRouteNotOwned,
		)}},
		WantEvents: []string{warning(ReasonNotOwned,
			"Route %q exists and is controlled by another object; delete it or give the Service another name", testName)},
	}, {
		Name:    "creating the Configuration fails: error is returned for a retry",
		Key:     testKey,
		Objects: objects(svc),
		WithReactors: []clientgotesting.ReactionFunc{
			rtesting.InduceFailure("create", "configurations"),
		},
		WantErr:     true,
		WantCreates: objects(configFor(svc)),
		// Nothing was learnt about the new generation; the generated
		// reconciler says so on Ready.
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svc, observedGenerationFailed)}},
		WantEvents: []string{warning("InternalError",
			"creating Configuration %s: inducing failure for create configurations", testName)},
	}, {
		Name:    "updating the Route fails: error is returned for a retry",
		Key:     testKey,
		Objects: objects(svcCanary, readyConfig(svc), readyRoute(svc)),
		WithReactors: []clientgotesting.ReactionFunc{
			rtesting.InduceFailure("update", "routes"),
		},
		WantErr: true,
		WantUpdates: []clientgotesting.UpdateActionImpl{{
			Object: readyRoute(svcCanary),
		}},
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(svcCanary,
			fwtesting.WithServiceConfigurationStatus(readyConfig(svc)),
		)}},
		WantEvents: []string{warning("InternalError",
			"updating Route %s: inducing failure for update routes", testName)},
	}}

	table.Test(t, fwtesting.MakeFactory(func(ctx context.Context, listers *fwtesting.Listers, cmw configmap.Watcher) controller.Reconciler {
		r := &Reconciler{
			client:              servingclient.Get(ctx),
			configurationLister: listers.GetConfigurationLister(),
			routeLister:         listers.GetRouteLister(),
		}
		store := config.NewStore(logging.FromContext(ctx))
		store.WatchConfigs(cmw)
		return servicereconciler.NewReconciler(ctx, logging.FromContext(ctx), servingclient.Get(ctx),
			listers.GetServiceLister(), controller.GetEventRecorder(ctx), r, controller.Options{ConfigStore: store})
	}))
}

package configuration

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgotesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	rtesting "knative.dev/pkg/reconciler/testing"

	"flywheel.dev/pkg/apis/config"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	configurationreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/configuration"
	"flywheel.dev/pkg/reconciler/configuration/resources"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

const (
	testNamespace = "demo"
	testName      = "hello"
	testKey       = testNamespace + "/" + testName
)

var now = time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)

// configAt is the Configuration at generation gen, whose template runs
// image v<gen>, stored through the API (so with the webhook's defaults),
// with opts applied after.
func configAt(gen int64, opts ...fwtesting.ConfigurationOption) *v1.Configuration {
	return fwtesting.Configuration(testName, testNamespace, append([]fwtesting.ConfigurationOption{
		fwtesting.WithConfigGeneration(gen),
		fwtesting.WithConfigImage(fmt.Sprintf("registry.example/hello:v%d", gen)),
		fwtesting.WithConfigDefaults,
	}, opts...)...)
}

// revisionOf is the Revision the reconciler makes from cfg, then opts.
func revisionOf(cfg *v1.Configuration, opts ...fwtesting.RevisionOption) *v1.Revision {
	rev := resources.MakeRevision(cfg, now)
	for _, opt := range opts {
		opt(rev)
	}
	return rev
}

// status is cfg as the reconciler writes its status: observed at its
// generation, conditions initialized, then opts.
func status(cfg *v1.Configuration, opts ...fwtesting.ConfigurationOption) *v1.Configuration {
	cfg = cfg.DeepCopy()
	for _, opt := range append([]fwtesting.ConfigurationOption{
		fwtesting.WithConfigObservedGeneration, fwtesting.WithConfigInitConditions,
	}, opts...) {
		opt(cfg)
	}
	return cfg
}

func objects(objs ...runtime.Object) []runtime.Object { return objs }

func normal(reason, format string, args ...any) string {
	return rtesting.Eventf(corev1.EventTypeNormal, reason, format, args...)
}

func warning(reason, format string, args ...any) string {
	return rtesting.Eventf(corev1.EventTypeWarning, reason, format, args...)
}

func TestReconcile(t *testing.T) {
	gen1, gen2, gen3 := configAt(1), configAt(2), configAt(3)
	blue := func(gen int64) *v1.Configuration {
		return configAt(gen, fwtesting.WithConfigTemplateName("hello-blue"))
	}
	failed := fwtesting.WithRevisionFailed(v1.ReasonExitCode, "container exited with code 1")
	failedMessage := "container exited with code 1"

	table := rtesting.TableTest{{
		Name: "key of a deleted Configuration: nothing to do, owner references clean up",
		Key:  testKey,
	}, {
		Name: "Configuration being deleted: nothing to do, owner references clean up",
		Key:  testKey,
		Objects: objects(
			configAt(1, fwtesting.WithConfigDeletionTimestamp),
			revisionOf(gen1, fwtesting.WithRevisionReady)),
	}, {
		Name:        "first generation makes revision hello-00001",
		Key:         testKey,
		Objects:     objects(gen1),
		WantCreates: objects(revisionOf(gen1)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen1,
			fwtesting.WithLatestCreated("hello-00001"),
		)}},
		WantEvents: []string{normal(ReasonCreated, "Created Revision %q", "hello-00001")},
	}, {
		Name:    "revision still coming up: Configuration waits for it",
		Key:     testKey,
		Objects: objects(gen1, revisionOf(gen1, fwtesting.WithRevisionPending)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen1,
			fwtesting.WithLatestCreated("hello-00001"),
		)}},
	}, {
		Name:    "revision ready: Configuration Ready with it as latest ready",
		Key:     testKey,
		Objects: objects(status(gen1, fwtesting.WithLatestCreated("hello-00001")), revisionOf(gen1, fwtesting.WithRevisionReady)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen1,
			fwtesting.WithConfigReady("hello-00001"),
		)}},
		WantEvents: []string{normal(ReasonLatestReadyUpdate, "LatestReadyRevisionName updated to %q", "hello-00001")},
	}, {
		Name: "everything in line: no writes",
		Key:  testKey,
		Objects: objects(
			status(gen1, fwtesting.WithConfigReady("hello-00001")),
			revisionOf(gen1, fwtesting.WithRevisionReady)),
	}, {
		Name: "second generation makes hello-00002; hello-00001 stays latest ready",
		Key:  testKey,
		Objects: objects(
			status(gen1, fwtesting.WithConfigReady("hello-00001"), fwtesting.WithConfigGeneration(2),
				fwtesting.WithConfigImage("registry.example/hello:v2")),
			revisionOf(gen1, fwtesting.WithRevisionReady)),
		WantCreates: objects(revisionOf(gen2)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen2,
			fwtesting.WithConfigReady("hello-00001"),
			fwtesting.WithLatestCreated("hello-00002"),
		)}},
		WantEvents: []string{normal(ReasonCreated, "Created Revision %q", "hello-00002")},
	}, {
		Name:        "name chosen in the template: the revision gets it",
		Key:         testKey,
		Objects:     objects(blue(1)),
		WantCreates: objects(revisionOf(blue(1))),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(blue(1),
			fwtesting.WithLatestCreated("hello-blue"),
		)}},
		WantEvents: []string{normal(ReasonCreated, "Created Revision %q", "hello-blue")},
	}, {
		Name: "chosen name taken by a revision of another owner: RevisionFailed, no retry",
		Key:  testKey,
		Objects: objects(blue(1), fwtesting.Revision("hello-blue", testNamespace,
			fwtesting.WithRevisionOwner(fwtesting.Configuration("other", testNamespace)))),
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(blue(1),
			fwtesting.WithRevisionCreationFailed(`Revision "hello-blue" already exists and belongs to another object; choose another name in spec.template.metadata.name`),
		)}},
		WantEvents: []string{warning(ReasonNotOwned,
			`Revision "hello-blue" already exists and belongs to another object; choose another name in spec.template.metadata.name`)},
	}, {
		Name: "chosen name already used for another template: RevisionFailed, no retry",
		Key:  testKey,
		Objects: objects(
			status(blue(1), fwtesting.WithConfigReady("hello-blue"), fwtesting.WithConfigGeneration(2),
				fwtesting.WithConfigImage("registry.example/hello:v2")),
			revisionOf(blue(1), fwtesting.WithRevisionReady)),
		WantErr: true,
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(blue(2),
			fwtesting.WithConfigReady("hello-blue"),
			fwtesting.WithRevisionCreationFailed(`Revision "hello-blue" was made from a different template and Revisions are immutable; choose a new name in spec.template.metadata.name with each change`),
		)}},
		WantEvents: []string{warning(ReasonNameTaken,
			`Revision "hello-blue" was made from a different template and Revisions are immutable; choose a new name in spec.template.metadata.name with each change`)},
	}, {
		Name: "back to an earlier named revision with the same template: it is used again",
		Key:  testKey,
		Objects: objects(
			status(configAt(2, fwtesting.WithConfigTemplateName("hello-green")), fwtesting.WithConfigReady("hello-green"),
				fwtesting.WithConfigGeneration(3), fwtesting.WithConfigTemplateName("hello-blue"),
				fwtesting.WithConfigImage("registry.example/hello:v1")),
			revisionOf(blue(1), fwtesting.WithRevisionReady),
			revisionOf(configAt(2, fwtesting.WithConfigTemplateName("hello-green")), fwtesting.WithRevisionReady)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(
			configAt(3, fwtesting.WithConfigTemplateName("hello-blue"), fwtesting.WithConfigImage("registry.example/hello:v1")),
			fwtesting.WithConfigReady("hello-green"),
			fwtesting.WithLatestCreated("hello-blue"),
			fwtesting.WithLatestReady("hello-blue"),
		)}},
		WantEvents: []string{normal(ReasonLatestReadyUpdate, "LatestReadyRevisionName updated to %q", "hello-blue")},
	}, {
		Name: "back to an earlier named revision after a config-defaults change: still used again",
		Key:  testKey,
		Objects: objects(
			fwtesting.ConfigMap(config.DefaultsConfigName, map[string]string{"revision-cpu-request": "100m"}),
			status(configAt(2, fwtesting.WithConfigTemplateName("hello-green")), fwtesting.WithConfigReady("hello-green"),
				fwtesting.WithConfigGeneration(3), fwtesting.WithConfigTemplateName("hello-blue"),
				fwtesting.WithConfigImage("registry.example/hello:v1")),
			revisionOf(blue(1), fwtesting.WithRevisionReady),
			revisionOf(configAt(2, fwtesting.WithConfigTemplateName("hello-green")), fwtesting.WithRevisionReady)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(
			configAt(3, fwtesting.WithConfigTemplateName("hello-blue"), fwtesting.WithConfigImage("registry.example/hello:v1")),
			fwtesting.WithConfigReady("hello-green"),
			fwtesting.WithLatestCreated("hello-blue"),
			fwtesting.WithLatestReady("hello-blue"),
		)}},
		WantEvents: []string{normal(ReasonLatestReadyUpdate, "LatestReadyRevisionName updated to %q", "hello-blue")},
	}, {
		Name: "latest created failed: Ready False, latest ready stays on hello-00001",
		Key:  testKey,
		Objects: objects(
			status(gen2, fwtesting.WithConfigReady("hello-00001"), fwtesting.WithLatestCreated("hello-00002")),
			revisionOf(gen1, fwtesting.WithRevisionReady),
			revisionOf(gen2, failed)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen2,
			fwtesting.WithConfigReady("hello-00001"),
			fwtesting.WithLatestCreated("hello-00002"),
			fwtesting.WithLatestCreatedFailed("hello-00002", failedMessage),
		)}},
		WantEvents: []string{warning(ReasonLatestCreatedFailed, "Latest created revision %q has failed", "hello-00002")},
	}, {
		Name: "failure already reported: no writes, no second event",
		Key:  testKey,
		Objects: objects(
			status(gen2, fwtesting.WithConfigReady("hello-00001"), fwtesting.WithLatestCreated("hello-00002"),
				fwtesting.WithLatestCreatedFailed("hello-00002", failedMessage)),
			revisionOf(gen1, fwtesting.WithRevisionReady),
			revisionOf(gen2, failed)),
	}, {
		Name: "recovery: a fixed template's revision replaces the failed one",
		Key:  testKey,
		Objects: objects(
			status(gen2, fwtesting.WithConfigReady("hello-00001"), fwtesting.WithLatestCreated("hello-00002"),
				fwtesting.WithLatestCreatedFailed("hello-00002", failedMessage),
				fwtesting.WithConfigGeneration(3), fwtesting.WithConfigImage("registry.example/hello:v3")),
			revisionOf(gen1, fwtesting.WithRevisionReady),
			revisionOf(gen2, failed),
			revisionOf(gen3, fwtesting.WithRevisionReady)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen3,
			fwtesting.WithConfigReady("hello-00003"),
		)}},
		WantEvents: []string{normal(ReasonLatestReadyUpdate, "LatestReadyRevisionName updated to %q", "hello-00003")},
	}, {
		Name: "failed revision turns ready: Configuration recovers",
		Key:  testKey,
		Objects: objects(
			status(gen2, fwtesting.WithConfigReady("hello-00001"), fwtesting.WithLatestCreated("hello-00002"),
				fwtesting.WithLatestCreatedFailed("hello-00002", failedMessage)),
			revisionOf(gen1, fwtesting.WithRevisionReady),
			revisionOf(gen2, fwtesting.WithRevisionReady)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen2,
			fwtesting.WithConfigReady("hello-00002"),
		)}},
		WantEvents: []string{normal(ReasonLatestReadyUpdate, "LatestReadyRevisionName updated to %q", "hello-00002")},
	}, {
		Name: "an older revision became ready while the newest is pending: latest ready moves forward",
		Key:  testKey,
		Objects: objects(
			status(gen3, fwtesting.WithConfigReady("hello-00001"), fwtesting.WithLatestCreated("hello-00003")),
			revisionOf(gen1, fwtesting.WithRevisionReady),
			revisionOf(gen2, fwtesting.WithRevisionReady),
			revisionOf(gen3, fwtesting.WithRevisionPending)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen3,
			fwtesting.WithConfigReady("hello-00001"),
			fwtesting.WithLatestReady("hello-00002"),
			fwtesting.WithLatestCreated("hello-00003"),
		)}},
		WantEvents: []string{normal(ReasonLatestReadyUpdate, "LatestReadyRevisionName updated to %q", "hello-00002")},
	}, {
		Name: "older ready revisions never take the latest ready one's place",
		Key:  testKey,
		Objects: objects(
			status(configAt(5), fwtesting.WithConfigReady("hello-00004"), fwtesting.WithLatestCreated("hello-00005")),
			revisionOf(gen1, fwtesting.WithRevisionReady),
			revisionOf(gen2, fwtesting.WithRevisionReady),
			revisionOf(gen3, fwtesting.WithRevisionReady),
			revisionOf(configAt(4), fwtesting.WithRevisionReady),
			revisionOf(configAt(5), fwtesting.WithRevisionPending)),
	}, {
		Name: "latest ready revision deleted: RevisionDeleted, latest ready cleared",
		Key:  testKey,
		Objects: objects(
			status(gen2, fwtesting.WithConfigReady("hello-00001"), fwtesting.WithLatestCreated("hello-00002")),
			revisionOf(gen2, fwtesting.WithRevisionPending)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen2,
			fwtesting.WithConfigReady("hello-00001"),
			fwtesting.WithLatestCreated("hello-00002"),
			fwtesting.WithLatestReadyDeleted,
		)}},
		WantEvents: []string{warning(ReasonLatestReadyDeleted, "Latest ready revision %q was deleted", "hello-00001")},
	}, {
		Name: "latest ready deleted with an older ready revision left: traffic falls back to it",
		Key:  testKey,
		Objects: objects(
			status(gen3, fwtesting.WithConfigReady("hello-00002"), fwtesting.WithLatestCreated("hello-00003")),
			revisionOf(gen1, fwtesting.WithRevisionReady),
			revisionOf(gen3, fwtesting.WithRevisionPending)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen3,
			fwtesting.WithConfigReady("hello-00002"),
			fwtesting.WithLatestCreated("hello-00003"),
			fwtesting.WithLatestReadyDeleted,
			fwtesting.WithLatestReady("hello-00001"),
		)}},
		WantEvents: []string{
			warning(ReasonLatestReadyDeleted, "Latest ready revision %q was deleted", "hello-00002"),
			normal(ReasonLatestReadyUpdate, "LatestReadyRevisionName updated to %q", "hello-00001"),
		},
	}, {
		Name:        "the only revision deleted: it is made again",
		Key:         testKey,
		Objects:     objects(status(gen1, fwtesting.WithConfigReady("hello-00001"))),
		WantCreates: objects(revisionOf(gen1)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen1,
			fwtesting.WithConfigReady("hello-00001"),
			fwtesting.WithLatestReadyDeleted,
		)}},
		WantEvents: []string{
			normal(ReasonCreated, "Created Revision %q", "hello-00001"),
			warning(ReasonLatestReadyDeleted, "Latest ready revision %q was deleted", "hello-00001"),
		},
	}, {
		Name: "a config-defaults change makes no new revision",
		Key:  testKey,
		Objects: objects(
			fwtesting.ConfigMap(config.DefaultsConfigName, map[string]string{
				"revision-timeout-seconds": "120",
				"revision-cpu-request":     "100m",
				"container-concurrency":    "10",
			}),
			status(gen1, fwtesting.WithConfigReady("hello-00001")),
			revisionOf(gen1, fwtesting.WithRevisionReady)),
	}, {
		Name: "a revision of another owner with this Configuration's labels is not taken for ours",
		Key:  testKey,
		Objects: objects(gen1, revisionOf(gen1, func(rev *v1.Revision) {
			rev.Name = "impostor"
			rev.OwnerReferences = nil
		}, fwtesting.WithRevisionReady)),
		WantCreates: objects(revisionOf(gen1)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen1,
			fwtesting.WithLatestCreated("hello-00001"),
		)}},
		WantEvents: []string{normal(ReasonCreated, "Created Revision %q", "hello-00001")},
	}, {
		Name:    "creating the revision fails: RevisionFailed with the API's message, retried",
		Key:     testKey,
		Objects: objects(gen1),
		WithReactors: []clientgotesting.ReactionFunc{
			rtesting.InduceFailure("create", "revisions"),
		},
		WantErr:     true,
		WantCreates: objects(revisionOf(gen1)),
		WantStatusUpdates: []clientgotesting.UpdateActionImpl{{Object: status(gen1,
			fwtesting.WithRevisionCreationFailed("inducing failure for create revisions"),
		)}},
		WantEvents: []string{warning("InternalError",
			"creating Revision hello-00001: inducing failure for create revisions")},
	}}

	table.Test(t, fwtesting.MakeFactory(func(ctx context.Context, listers *fwtesting.Listers, cmw configmap.Watcher) controller.Reconciler {
		r := &Reconciler{
			client:         servingclient.Get(ctx),
			revisionLister: listers.GetRevisionLister(),
			clock:          clocktesting.NewFakePassiveClock(now),
		}
		store := config.NewStore(logging.FromContext(ctx))
		store.WatchConfigs(cmw)
		return configurationreconciler.NewReconciler(ctx, logging.FromContext(ctx), servingclient.Get(ctx),
			listers.GetConfigurationLister(), controller.GetEventRecorder(ctx), r, controller.Options{ConfigStore: store})
	}))
}

package webhook

import (
	"context"
	"encoding/json"
	"errors"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/webhook"
	"knative.dev/pkg/webhook/psbinding"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	sourcesinformers "flywheel.dev/pkg/client/informers/externalversions/sources/v1"
	flywheelclient "flywheel.dev/pkg/client/injection/client"
	sourceslisters "flywheel.dev/pkg/client/listers/sources/v1"
)

// SinkBindingWebhookName names the MutatingWebhookConfiguration, and its
// one webhook, through which the API server sends SinkBindings' subjects
// as they are written. Its rules, selectors and CA bundle are the
// webhook's to fill in; config/core holds the rest.
const SinkBindingWebhookName = "sinkbindings.webhook.sources.flywheel.dev"

// sinkBindingPath is where the webhook serves the binding.
const sinkBindingPath = "/sinkbindings"

var jobKind = schema.GroupKind{Group: "batch", Kind: "Job"}

// NewSinkBindingController serves the SinkBinding webhook: each subject
// of a SinkBinding gets K_SINK and K_CE_OVERRIDES as it is created or
// updated (and loses them while its binding is being deleted), so that
// its pods start bound. It keeps the configuration's rules to the kinds
// SinkBindings name.
//
// It runs in psbinding's exclusion mode: a namespace or object labelled
// bindings.knative.dev/exclude: "true" is not sent to it. The
// configuration in config/core also leaves out Flywheel's own namespace
// and kube-system by name, so that the webhook is never on the path of
// the pods that run it, or of the cluster's.
func NewSinkBindingController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	impl := psbinding.NewAdmissionController(ctx, SinkBindingWebhookName, sinkBindingPath,
		listSinkBindings,
		// Do and Undo need no more than the binding: its status holds the
		// sink the reconciler resolved.
		nil,
		psbinding.WithSelector(psbinding.ExclusionSelector),
	)
	impl.Reconciler = &sinkBindingAdmission{Reconciler: impl.Reconciler.(*psbinding.Reconciler)}
	return impl
}

// listSinkBindings lists every SinkBinding for psbinding, which programs
// the webhook from them, and has handler called when one changes.
//
// The informer is made and run here rather than taken from injection:
// an injection informer is registered, and started by sharedmain, as soon
// as its package is linked, and this one needs RBAC (list and watch on
// SinkBindings) that only a webhook serving SinkBindings should ask for.
func listSinkBindings(ctx context.Context, handler cache.ResourceEventHandler) psbinding.ListAll {
	informer := sourcesinformers.NewSinkBindingInformer(flywheelclient.Get(ctx), metav1.NamespaceAll,
		controller.GetResyncPeriod(ctx), cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if _, err := informer.AddEventHandler(handler); err != nil {
		logging.FromContext(ctx).Fatalw("Watching SinkBindings", "error", err)
	}
	go informer.Run(ctx.Done())
	lister := sourceslisters.NewSinkBindingLister(informer.GetIndexer())
	return func() ([]psbinding.Bindable, error) {
		// Rules and an index made of a partial list would leave subjects
		// unbound; each binding the informer adds brings the webhook back.
		if !informer.HasSynced() {
			return nil, errors.New("the SinkBindings are not listed yet")
		}
		sbs, err := lister.List(labels.Everything())
		if err != nil {
			return nil, err
		}
		bindables := make([]psbinding.Bindable, 0, len(sbs))
		for _, sb := range sbs {
			bindables = append(bindables, sb)
		}
		return bindables, nil
	}
}

// sinkBindingAdmission is psbinding's admission controller with the
// subjects it alone gets wrong put right:
//
//   - a CronJob is shown to it as a PodSpecable (its job's pod template at
//     spec.template), and the patch it makes is moved back to the job
//     template (sourcesv1.CronJobAsPodSpecable);
//   - an update of a Job passes unchanged: a Job's pod template cannot
//     change once the Job exists, so a binding that changed it would make
//     every update of the Job fail, the garbage collector's and the Job
//     controller's included. A Job is bound when it is created;
//   - a write to a subresource (status, scale) passes unchanged: it
//     cannot change the pod template, and the rules psbinding writes
//     (<kind>/*) send every one of them here.
type sinkBindingAdmission struct {
	*psbinding.Reconciler
}

var _ webhook.AdmissionController = (*sinkBindingAdmission)(nil)

// Admit implements webhook.AdmissionController.
func (a *sinkBindingAdmission) Admit(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	kind := schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}
	switch {
	case req.SubResource != "":
		return &admissionv1.AdmissionResponse{Allowed: true}
	case kind == jobKind && req.Operation == admissionv1.Update:
		return &admissionv1.AdmissionResponse{Allowed: true}
	case kind == sourcesv1.CronJobKind:
		return a.admitCronJob(ctx, req)
	}
	return a.Reconciler.Admit(ctx, req)
}

func (a *sinkBindingAdmission) admitCronJob(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	var obj map[string]any
	if err := json.Unmarshal(req.Object.Raw, &obj); err != nil {
		return webhook.MakeErrorStatus("decoding the CronJob: %v", err)
	}
	shown, err := sourcesv1.CronJobAsPodSpecable(obj)
	if err != nil {
		return webhook.MakeErrorStatus("reading the CronJob's job template: %v", err)
	}
	if !shown {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return webhook.MakeErrorStatus("encoding the CronJob: %v", err)
	}
	asPodSpecable := req.DeepCopy()
	asPodSpecable.Object.Raw = raw
	resp := a.Reconciler.Admit(ctx, asPodSpecable)
	if len(resp.Patch) == 0 {
		return resp
	}
	if resp.Patch, err = sourcesv1.CronJobPatch(resp.Patch); err != nil {
		return webhook.MakeErrorStatus("moving the binding's patch to the CronJob's job template: %v", err)
	}
	return resp
}

package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/mergepatch"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/params"
)

// NewServiceApplyCommand returns `fw service apply`.
func NewServiceApplyCommand(p *params.Params) *cobra.Command {
	o := createOptions{declaresAll: true}
	cmd := &cobra.Command{
		Use:   "apply NAME --image IMAGE",
		Short: "Create a Service, or make an existing one what the flags and file declare",
		Long: `Declare the whole Service: the flags (and -f/--filename) say all of it, as
with kn service apply and kubectl apply. The Service is created if it
does not exist; otherwise what an earlier apply set and this one no
longer says is removed, what it says is set, and what other commands set
beyond that is left alone (a three-way merge with the last applied
configuration, kept in the annotation
kubectl.kubernetes.io/last-applied-configuration, which kubectl apply
shares). So --image is needed every time, and a variable dropped from
the command line is dropped from the Service; change one setting alone
with fw service update.

Running the same command again changes nothing and makes no new Revision,
so it suits scripts and CI; a --revision-name template such as
{{.Service}}-{{.Random 5}} names a new Revision only when the template
changes.`,
		Example: `  # The same command creates hello the first time and is a no-op after:
  fw service apply hello --image ko://flywheel.dev/examples/hello --env TARGET=world

  # TARGET is set, DEBUG (applied before) is removed:
  fw service apply hello --image ko://flywheel.dev/examples/hello --env TARGET=v2

  # From a file, with one more variable:
  fw service apply hello -f service.yaml --env DEBUG=1`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApply(cmd.Context(), cmd.OutOrStdout(), p, &o, args[0])
		},
	}
	// kn gives a new Service strict unless told otherwise.
	o.service.NewSecurityContext = flags.SecurityContextStrict
	o.add(cmd, p)
	cmd.Flags().StringVarP(&o.filename, filenameFlag, "f", "", "declare the Service from this YAML or JSON file; the other flags change it")
	return cmd
}

func runApply(ctx context.Context, out io.Writer, p *params.Params, o *createOptions, name string) error {
	desired, err := o.declared(name)
	if err != nil {
		return err
	}
	client, ns, err := p.Connect()
	if err != nil {
		return err
	}
	if err := o.inNamespace(desired, ns); err != nil {
		return err
	}
	live, err := client.Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrs.IsNotFound(err) {
		if err := recordApplied(desired); err != nil {
			return err
		}
		created, err := client.Services(ns).Create(ctx, desired, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating Service %s: %w", name, err)
		}
		return report(ctx, out, client, created, "Created", &o.writeOptions)
	}
	if err != nil {
		return fmt.Errorf("reading Service %s: %w", name, err)
	}
	lastApplied, err := appliedBefore(live)
	if err != nil {
		return err
	}
	o.keepRevisionName(lastApplied, desired)
	if err := recordApplied(desired); err != nil {
		return err
	}
	patch, err := applyPatch(live, desired)
	if err != nil {
		return err
	}
	if string(patch) == "{}" {
		return report(ctx, out, client, live, updated(false), &o.writeOptions)
	}
	result, err := client.Services(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("applying Service %s: %w", name, err)
	}
	return report(ctx, out, client, result, updated(!unchanged(live, result)), &o.writeOptions)
}

// appliedBefore is the Service that the last apply declared, nil if no
// apply did.
func appliedBefore(live *servingv1.Service) (*servingv1.Service, error) {
	last, ok := live.Annotations[corev1.LastAppliedConfigAnnotation]
	if !ok {
		return nil, nil
	}
	var svc servingv1.Service
	if err := json.Unmarshal([]byte(last), &svc); err != nil {
		return nil, fmt.Errorf("the annotation %s of Service %s is not a Service (%w): remove it, and apply again",
			corev1.LastAppliedConfigAnnotation, live.Name, err)
	}
	return &svc, nil
}

// keepRevisionName gives desired the Revision name that the last apply
// gave its template when --revision-name is a template ({{.Random 5}})
// and the template is otherwise what it was: a new name would make a
// Revision that changes nothing.
func (o *createOptions) keepRevisionName(lastApplied, desired *servingv1.Service) {
	if lastApplied == nil || !strings.Contains(o.service.RevisionName, "{{") {
		return
	}
	before, after := lastApplied.Spec.Template.DeepCopy(), desired.Spec.Template.DeepCopy()
	before.Name, after.Name = "", ""
	if equality.Semantic.DeepEqual(before, after) {
		desired.Spec.Template.Name = lastApplied.Spec.Template.Name
	}
}

// recordApplied writes desired, as declared, into its last-applied
// annotation, as kubectl apply does, for the next apply's merge.
func recordApplied(desired *servingv1.Service) error {
	declared := desired.DeepCopy()
	delete(declared.Annotations, corev1.LastAppliedConfigAnnotation)
	b, err := manifestJSON(declared)
	if err != nil {
		return err
	}
	if desired.Annotations == nil {
		desired.Annotations = map[string]string{}
	}
	desired.Annotations[corev1.LastAppliedConfigAnnotation] = string(b)
	return nil
}

// applyPatch is the JSON merge patch that makes live what desired
// declares: what desired says, minus what the last apply said and desired
// no longer does; the rest of live stays.
func applyPatch(live, desired *servingv1.Service) ([]byte, error) {
	modified, err := manifestJSON(desired)
	if err != nil {
		return nil, err
	}
	// Typed clients drop apiVersion and kind, which the merge checks.
	withKind := live.DeepCopy()
	withKind.APIVersion, withKind.Kind = servingv1.SchemeGroupVersion.String(), "Service"
	current, err := json.Marshal(withKind)
	if err != nil {
		return nil, err
	}
	var original []byte
	if last, ok := live.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		original = []byte(last)
	}
	patch, err := jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, current,
		mergepatch.RequireKeyUnchanged("apiVersion"), mergepatch.RequireKeyUnchanged("kind"),
		mergepatch.RequireMetadataKeyUnchanged("name"))
	if err != nil {
		return nil, fmt.Errorf("merging Service %s with what was applied before: %w", live.Name, err)
	}
	return patch, nil
}

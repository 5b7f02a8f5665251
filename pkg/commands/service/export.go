package service

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
	"flywheel.dev/pkg/commands/offline"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

// replayMode is the one --mode of kn's that fw writes.
const replayMode = "replay"

// NewServiceExportCommand returns `fw service export`.
func NewServiceExportCommand(p *params.Params) *cobra.Command {
	var output, mode string
	var withRevisions bool
	cmd := &cobra.Command{
		Use:   "export NAME",
		Short: "Print a Service as a manifest to keep or apply elsewhere, optionally with its routed Revisions",
		Long: `Print the Service as a manifest: its spec, labels and annotations,
without its status and without what the server set (uid, resourceVersion,
generation, timestamps, managed fields, creator and last modifier), as
kn service export does. kubectl apply -f or fw service create -f make it
again.

--with-revisions --mode replay prints a list of Services, one for each
Revision that takes traffic, oldest first, each with that Revision's
template and name, and last the Service as it is, with its traffic
split: applied in order, each once the Revision of the one before
exists, they make the same Revisions under the same names, so that the
split finds them.`,
		Example: `  fw service export hello -o yaml > hello.yaml
  fw service export hello --with-revisions --mode replay -o json > hello-with-revisions.json`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkExportFlags(output, mode, withRevisions); err != nil {
				return err
			}
			client, ns, err := p.Connect()
			if err != nil {
				return err
			}
			return runExport(cmd.Context(), cmd.OutOrStdout(), client, ns, args[0], output, withRevisions)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", printers.YAML, "format: yaml or json")
	cmd.Flags().BoolVar(&withRevisions, "with-revisions", false, "also export every Revision that takes traffic (with --mode replay)")
	cmd.Flags().StringVar(&mode, "mode", "", "how --with-revisions writes the Revisions: replay, a list of Services to apply in order")
	return cmd
}

func checkExportFlags(output, mode string, withRevisions bool) error {
	if output != printers.YAML && output != printers.JSON {
		return fmt.Errorf("--output %q: want %s or %s", output, printers.YAML, printers.JSON)
	}
	switch {
	case mode != "" && !withRevisions:
		return fmt.Errorf("--mode %s says how to write the Revisions: give --with-revisions too", mode)
	case withRevisions && mode == "":
		return fmt.Errorf("--with-revisions needs --mode %s", replayMode)
	case withRevisions && mode != replayMode:
		return fmt.Errorf("--mode %q: fw writes --mode %s, a list of Services that kubectl apply -f replays (kn's export mode writes a kind of kn's own, which only kn reads)", mode, replayMode)
	}
	return nil
}

func runExport(ctx context.Context, out io.Writer, client servingv1client.ServingV1Interface, ns, name, output string, withRevisions bool) error {
	svc, err := params.Get(ctx, client.Services(ns).Get, "Service", ns, name)
	if err != nil {
		return err
	}
	var manifest runtime.Object = exported(svc)
	if withRevisions {
		if manifest, err = replay(ctx, client, svc); err != nil {
			return err
		}
	}
	return printManifest(out, output, manifest)
}

// printManifest prints obj, a Service or a list of them, without the
// empty status and creation time that the Go types would write.
func printManifest(out io.Writer, output string, obj runtime.Object) error {
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: fields}
	var clean runtime.Object = u
	if u.IsList() {
		list, err := u.ToList()
		if err != nil {
			return err
		}
		list.SetAPIVersion("v1")
		list.SetKind("List")
		clean = list
		for i := range list.Items {
			offline.WithoutServerFields(&list.Items[i])
		}
	} else {
		offline.WithoutServerFields(u)
	}
	return printers.PrintObject(out, output, clean)
}

// manifestJSON is svc as a manifest declares it, in JSON.
func manifestJSON(svc *servingv1.Service) ([]byte, error) {
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(svc)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: fields}
	offline.WithoutServerFields(u)
	return u.MarshalJSON()
}

// exported is svc without its status and what the server set.
func exported(svc *servingv1.Service) *servingv1.Service {
	return &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      svc.Name,
			Namespace: svc.Namespace,
			Labels:    svc.Labels,
			Annotations: filterKeys(svc.Annotations, func(k string) bool {
				return k == serving.CreatorAnnotation.String() || k == serving.LastModifierAnnotation.String()
			}),
		},
		Spec: *svc.Spec.DeepCopy(),
	}
}

// replay is a list of Services that, applied in order, make the routed
// Revisions of svc under their names, then svc itself.
func replay(ctx context.Context, client servingv1client.ServingV1Interface, svc *servingv1.Service) (*servingv1.ServiceList, error) {
	revisions := client.Revisions(svc.Namespace)
	final := exported(svc)
	// The final template makes the latest Revision again, under its
	// name, when that Revision is the one this template made.
	if latest := svc.Status.LatestCreatedRevisionName; final.Spec.Template.Name == "" && latest != "" {
		rev, err := revisions.Get(ctx, latest, metav1.GetOptions{})
		switch {
		case err == nil && equality.Semantic.DeepEqual(rev.Spec, svc.Spec.Template.Spec):
			final.Spec.Template.Name = latest
		case err != nil && !apierrs.IsNotFound(err):
			return nil, fmt.Errorf("reading Revision %s of Service %s: %w", latest, svc.Name, err)
		}
	}
	// The split as declared and as served: a Revision the Route has not
	// reached yet is routed all the same.
	var routed []*servingv1.Revision
	for _, tt := range slices.Concat(svc.Spec.Traffic, svc.Status.Traffic) {
		if tt.RevisionName == "" || tt.RevisionName == final.Spec.Template.Name ||
			slices.ContainsFunc(routed, func(r *servingv1.Revision) bool { return r.Name == tt.RevisionName }) {
			continue
		}
		rev, err := revisions.Get(ctx, tt.RevisionName, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading Revision %s, which takes traffic of Service %s: %w", tt.RevisionName, svc.Name, err)
		}
		routed = append(routed, rev)
	}
	slices.SortStableFunc(routed, func(a, b *servingv1.Revision) int { return generation(a) - generation(b) })
	list := &servingv1.ServiceList{}
	for _, rev := range routed {
		step := exported(svc)
		step.Spec.Traffic = nil // all to each Revision in turn, until the last item splits
		step.Spec.Template = servingv1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{
				Name:        rev.Name,
				Labels:      userKeys(rev.Labels),
				Annotations: userKeys(rev.Annotations),
			},
			Spec: *rev.Spec.DeepCopy(),
		}
		list.Items = append(list.Items, *step)
	}
	list.Items = append(list.Items, *final)
	return list, nil
}

// generation is the Configuration generation that made rev, 0 if unknown.
func generation(rev *servingv1.Revision) int {
	g, _ := strconv.Atoi(rev.Labels[serving.ConfigurationGenerationLabel.String()])
	return g
}

// userKeys is m without the keys the platform sets on a Revision (the
// serving.knative.dev group), which a template must not carry.
func userKeys(m map[string]string) map[string]string {
	return filterKeys(m, func(k string) bool { return strings.HasPrefix(k, serving.GroupName+"/") })
}

// filterKeys is a copy of m without the keys drop says to drop, nil when
// nothing is left.
func filterKeys(m map[string]string, drop func(key string) bool) map[string]string {
	var out map[string]string
	for k, v := range m {
		if drop(k) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

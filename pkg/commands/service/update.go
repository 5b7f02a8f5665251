package service

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/params"
)

// NewServiceUpdateCommand returns `fw service update`.
func NewServiceUpdateCommand(p *params.Params) *cobra.Command {
	var o writeOptions
	var apply applyRecommendationFlags
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a Service: only what the flags say",
		Long: `Change the given settings of a Service and leave the rest as it is. A
change to the template (image, environment, volumes, resources, probes,
revision labels and annotations, scale...) makes a new Revision; tags and
traffic change only the split.

--revision-name names that Revision. Without it, a name chosen earlier
is dropped when the template changes, so that the server names the new
Revision (a name belongs to one Revision, and the API refuses to reuse
it). A --revision-name template such as {{.Service}}-{{.Random 5}} makes
no new Revision when nothing else changes, so a repeated command stays a
no-op.

Without --image, a change that makes a new Revision keeps running the
code the Service runs now: the image becomes the digest the current
Revision ran, and the annotation client.knative.dev/user-image keeps the
tag (--lock-to-digest, the default, as kn does). --no-lock-to-digest
resolves the tag afresh instead; alone, it goes back from a locked digest
to the tag. Images the node builds (ko://, a path) are never locked.

--untag, then --tag, then --traffic are applied, so one command can tag
a revision and send traffic to it by that tag. --traffic sets the whole
split: targets it does not name get 0% and, unless tagged, are dropped.

--apply-recommendation sets the requests of the serving container to what
the Vertical Pod Autoscaler recommends for the latest Ready Revision
(right-sizing advice, autoscaling.flywheel.dev/right-sizing: advise),
which makes a new Revision; fw service describe shows the advice first.`,
		Example: `  # A new image, one more variable and one less:
  fw service update hello --image ko://flywheel.dev/examples/hello --env TARGET=v2 --env DEBUG-

  # Keep 90% on the current revision, under the tag "stable", and send 10%
  # to the newest revision, reachable on its own as "candidate":
  fw service update hello --tag hello-00001=stable,@latest=candidate --traffic stable=90,candidate=10

  # Everything to the latest revision again, and drop the tags:
  fw service update hello --untag stable,candidate --traffic @latest=100

  # More memory, a ConfigMap mounted, one of its keys as a variable:
  fw service update hello --request memory=256Mi --mount /etc/hello=cm:hello-settings \
    --env-value-from GREETING=cm:hello-settings:greeting

  # Ask for right-sizing advice; once describe shows it, apply it:
  fw service update hello --annotation autoscaling.flywheel.dev/right-sizing=advise
  fw service describe hello
  fw service update hello --apply-recommendation`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			applyIt, err := apply.apply()
			if err != nil {
				return err
			}
			return runUpdate(cmd.Context(), cmd.OutOrStdout(), p, &o, applyIt, args[0])
		},
	}
	o.add(cmd, p)
	apply.add(cmd)
	return cmd
}

// applyRecommendationFlags are --apply-recommendation and its opposite.
type applyRecommendationFlags struct {
	yes, no bool
}

func (f *applyRecommendationFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.yes, "apply-recommendation", false,
		"set the serving container's requests to the right-sizing recommendation of the latest Ready Revision")
	cmd.Flags().BoolVar(&f.no, "no-apply-recommendation", false, "do not apply the recommendation: the opposite of --apply-recommendation (the default)")
}

// apply reports whether to apply the recommendation, refusing both flags
// at once.
func (f *applyRecommendationFlags) apply() (bool, error) {
	if f.yes && f.no {
		return false, fmt.Errorf("--apply-recommendation and --no-apply-recommendation contradict each other: give one of them")
	}
	return f.yes, nil
}

func runUpdate(ctx context.Context, out io.Writer, p *params.Params, o *writeOptions, applyRec bool, name string) error {
	client, ns, err := o.connectToChange(p, name)
	if err != nil {
		return err
	}
	svc, changed, err := update(ctx, out, client, ns, name, o, applyRec)
	if apierrs.IsNotFound(err) {
		return fmt.Errorf("no Service %s in namespace %s: create it with fw service create %s --image IMAGE", name, ns, name)
	}
	if err != nil {
		return err
	}
	return report(ctx, out, client, svc, updated(changed), o)
}

// update applies the flags to the Service as it is now, retrying when
// someone else changed it in between. It writes nothing when the flags
// change nothing, and says whether it wrote.
//
// A change that makes a new Revision without --image keeps the code the
// Service runs (--lock-to-digest); when it cannot, it says why on out.
func update(ctx context.Context, out io.Writer, client servingv1client.ServingV1Interface, ns, name string, o *writeOptions, applyRec bool) (*servingv1.Service, bool, error) {
	var result *servingv1.Service
	var changed bool
	var notLocked string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := client.Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edited := svc.DeepCopy()
		if err := o.service.Apply(edited); err != nil {
			return err
		}
		if applyRec {
			if err := applyRecommendation(ctx, client, svc, edited); err != nil {
				return err
			}
		}
		if unchanged(svc, edited) {
			result, changed = svc, false
			return nil
		}
		notLocked = ""
		newRevision := !equality.Semantic.DeepEqual(svc.Spec.Template, edited.Spec.Template)
		// Files hold no Revision to take the digest from (--target).
		if newRevision && o.service.LocksToDigest() && flags.Lockable(&edited.Spec.Template) && !o.offline() {
			if notLocked, err = lockToDigest(ctx, client, svc, edited); err != nil {
				return err
			}
		}
		if result, err = client.Services(ns).Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating Service %s: %w", name, err)
		}
		changed = true
		return nil
	})
	if err == nil && notLocked != "" {
		fmt.Fprintf(out, "Not locking the image to a digest: %s (give --image to choose the image, or --no-lock-to-digest to resolve tags afresh on purpose).\n", notLocked)
	}
	return result, changed, err
}

// lockToDigest makes edited's template run the digest of the Revision svc
// runs now (flags.LockToDigest). It returns why it could not, for the
// user, or an error when that Revision cannot be read.
func lockToDigest(ctx context.Context, client servingv1client.ServingV1Interface, svc, edited *servingv1.Service) (string, error) {
	// A template that names its Revision names the one it made; else
	// the latest created is the current template's.
	name := svc.Spec.Template.Name
	if name == "" {
		name = svc.Status.LatestCreatedRevisionName
	}
	if name == "" {
		return "Service " + svc.Name + " has no Revision yet", nil
	}
	base, err := client.Revisions(svc.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrs.IsNotFound(err) {
		return "its current Revision " + name + " does not exist (yet)", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading Revision %s, whose image digest the new Revision keeps: %w", name, err)
	}
	if err := flags.LockToDigest(&edited.Spec.Template, base); err != nil {
		return err.Error(), nil
	}
	return "", nil
}

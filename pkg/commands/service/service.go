package service

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/equality"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/offline"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/wait"
)

// NewServiceCommand returns `fw service` and its verbs.
func NewServiceCommand(p *params.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "service",
		Aliases: []string{"services", "ksvc"},
		Short:   "Create, change, list, describe and delete Knative Services",
		Long: `A Service runs a container image and gives it a URL. Each change to its
template makes a new Revision; its traffic block splits requests between
Revisions by percent and gives chosen Revisions URLs of their own (tags).`,
	}
	p.AddClusterFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		NewServiceCreateCommand(p),
		NewServiceUpdateCommand(p),
		NewServiceApplyCommand(p),
		NewServiceListCommand(p),
		NewServiceDescribeCommand(p),
		NewServiceExportCommand(p),
		NewServiceDeleteCommand(p),
	)
	return cmd
}

// writeOptions are the flags of the verbs that write a Service.
type writeOptions struct {
	service flags.ServiceFlags
	wait    flags.WaitFlags
	// target is --target, the files worked on instead of a cluster:
	// params.Params.Target.
	target *string
}

func (o *writeOptions) add(cmd *cobra.Command, p *params.Params) {
	o.service.Add(cmd.Flags())
	p.AddTargetFlag(cmd.Flags())
	o.target = &p.Target
	// --containers - reads the command's input, known once it runs.
	cmd.PreRun = func(cmd *cobra.Command, _ []string) { o.service.SetStdin(cmd.InOrStdin()) }
	o.wait.Add(cmd.Flags(), "the Service is ready at this change, and print its URL", true)
	o.wait.AddErrorWindow(cmd.Flags())
}

// unchanged reports whether edited would change nothing that a user can
// set on svc.
func unchanged(svc, edited *servingv1.Service) bool {
	return equality.Semantic.DeepEqual(svc.Spec, edited.Spec) &&
		equality.Semantic.DeepEqual(svc.Annotations, edited.Annotations) &&
		equality.Semantic.DeepEqual(svc.Labels, edited.Labels)
}

// connectToChange checks the flags of a command that changes a Service,
// then connects: nothing is read before the flags are known good.
func (o *writeOptions) connectToChange(p *params.Params, name string) (servingv1client.ServingV1Interface, string, error) {
	if _, err := o.wait.Wait(); err != nil {
		return nil, "", err
	}
	if err := o.service.Check(name); err != nil {
		return nil, "", err
	}
	return p.Connect()
}

// offline reports whether the command works on files (--target).
func (o *writeOptions) offline() bool { return o.target != nil && *o.target != "" }

// updated names what update did, for report.
func updated(changed bool) string {
	if changed {
		return "Updated"
	}
	return "Nothing to change in"
}

// report says what was done to svc and, when asked to, waits until the
// Service is Ready at the generation that was written and prints its URL.
func report(ctx context.Context, out io.Writer, client servingv1client.ServingV1Interface, svc *servingv1.Service, done string, o *writeOptions) error {
	shouldWait, err := o.wait.Wait()
	if err != nil {
		return err
	}
	if o.offline() {
		// A file makes no Revision: there is nothing to wait for.
		fmt.Fprintf(out, "%s Service %s in namespace %s, in %s.\n", done, svc.Name, svc.Namespace, offline.Path(*o.target, svc.Namespace, svc.Name))
		return nil
	}
	fmt.Fprintf(out, "%s Service %s in namespace %s.\n", done, svc.Name, svc.Namespace)
	if !shouldWait {
		fmt.Fprintf(out, "Not waiting for it to become ready; see fw service describe %s -n %s\n", svc.Name, svc.Namespace)
		return nil
	}
	fmt.Fprintf(out, "Waiting for Service %s to become ready...\n", svc.Name)
	ready, err := wait.ForServiceReady(ctx, client, svc.Namespace, svc.Name, svc.Generation, o.wait.Bounds())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Service %s is ready, latest revision %s, at:\n%s\n",
		ready.Name, ready.Status.LatestReadyRevisionName, printers.URL(ready.Status.URL))
	return nil
}

// exactlyOneName is the argument check of the verbs that take one Service.
func exactlyOneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("give the name of one Service, e.g. hello (got %d arguments)", len(args))
	}
	return nil
}

package service

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/params"
)

// NewServiceApplyCommand returns `fw service apply`.
func NewServiceApplyCommand(p *params.Params) *cobra.Command {
	var o writeOptions
	cmd := &cobra.Command{
		Use:   "apply NAME --image IMAGE",
		Short: "Create a Service, or bring an existing one in line with the flags",
		Long: `Create the Service if it does not exist, else change it as fw service
update would. Running the same command again changes nothing and makes no
new Revision, so it suits scripts and CI.`,
		Example: `  # The same command creates hello the first time and is a no-op after:
  fw service apply hello --image ko://flywheel.dev/examples/hello --env TARGET=world`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApply(cmd.Context(), cmd.OutOrStdout(), p, &o, args[0])
		},
	}
	o.add(cmd)
	return cmd
}

func runApply(ctx context.Context, out io.Writer, p *params.Params, o *writeOptions, name string) error {
	client, ns, err := o.connectToChange(p, name)
	if err != nil {
		return err
	}
	svc, changed, err := update(ctx, client, ns, name, o, false)
	if apierrs.IsNotFound(err) {
		if err := o.service.RequireImage(); err != nil {
			return err
		}
		svc = &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		if err := o.service.Apply(svc); err != nil {
			return err
		}
		if svc, err = client.Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return err
		}
		return report(ctx, out, client, svc, "Created", o)
	}
	if err != nil {
		return err
	}
	return report(ctx, out, client, svc, updated(changed), o)
}

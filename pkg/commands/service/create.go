package service

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/params"
)

// NewServiceCreateCommand returns `fw service create`.
func NewServiceCreateCommand(p *params.Params) *cobra.Command {
	var o writeOptions
	cmd := &cobra.Command{
		Use:   "create NAME --image IMAGE",
		Short: "Create a Service and wait until it is ready",
		Long: `Create a Service that runs the given image. By default the command waits
until the Service is ready and prints its URL; if the Service fails, it
prints why (for example an image that cannot be resolved) and exits
non-zero.`,
		Example: `  # Run an app built from Go source (local mode) and print its URL:
  fw service create hello --image ko://flywheel.dev/examples/hello

  # With environment, a port, a limit of 10 requests per pod and 1 to 5 pods:
  fw service create hello --image ko://flywheel.dev/examples/hello \
    --env TARGET=world --port 8080 --concurrency-limit 10 --scale-min 1 --scale-max 5

  # Give the first revision its own URL, and do not wait:
  fw service create hello --image ko://flywheel.dev/examples/hello --tag @latest=current --no-wait`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCreate(cmd.Context(), cmd.OutOrStdout(), p, &o, args[0])
		},
	}
	o.add(cmd)
	return cmd
}

func runCreate(ctx context.Context, out io.Writer, p *params.Params, o *writeOptions, name string) error {
	if err := o.service.RequireImage(); err != nil {
		return err
	}
	if _, err := o.wait.Wait(); err != nil {
		return err
	}
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := o.service.Apply(svc); err != nil {
		return err
	}
	client, ns, err := p.Connect()
	if err != nil {
		return err
	}
	svc.Namespace = ns
	created, err := client.Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if apierrs.IsAlreadyExists(err) {
		return fmt.Errorf("a Service %s already exists in namespace %s: change it with fw service update %s, or use fw service apply", name, ns, name)
	}
	if err != nil {
		return fmt.Errorf("creating Service %s: %w", name, err)
	}
	return report(ctx, out, client, created, "Created", o)
}

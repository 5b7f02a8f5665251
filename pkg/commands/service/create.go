package service

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"

	"github.com/spf13/cobra"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/params"
)

// NewServiceCreateCommand returns `fw service create`.
func NewServiceCreateCommand(p *params.Params) *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create NAME --image IMAGE",
		Short: "Create a Service and wait until it is ready",
		Long: `Create a Service that runs the given image. By default the command waits
until the Service is ready and prints its URL; if the Service fails, it
prints why (for example an image that cannot be resolved) and exits
non-zero.

-f/--filename starts from a Service in a YAML or JSON file (its name, if
it has one, must be NAME), and the other flags change it from there.
--force replaces a Service of that name if there is one: its spec, labels
and annotations become what this command says, as if created anew.`,
		Example: `  # Run an app built from Go source (local mode) and print its URL:
  fw service create hello --image ko://flywheel.dev/examples/hello

  # With environment, a port, a limit of 10 requests per pod and 1 to 5 pods:
  fw service create hello --image ko://flywheel.dev/examples/hello \
    --env TARGET=world --port 8080 --concurrency-limit 10 --scale 1..5

  # Settings from a ConfigMap, mounted and as variables, and resources:
  fw service create api --image registry.example.com/api:v1 \
    --env-from cm:api-settings --mount /etc/api=cm:api-settings \
    --request cpu=250m,memory=128Mi --limit memory=256Mi

  # Give the first revision a name and its own URL, and do not wait:
  fw service create hello --image ko://flywheel.dev/examples/hello \
    --revision-name hello-v1 --tag hello-v1=current --no-wait

  # From a file, with one more variable; replace hello if it exists:
  fw service create hello -f service.yaml --env DEBUG=1 --force

  # Write the Service to a file instead of a cluster (GitOps):
  fw service create hello --image ko://flywheel.dev/examples/hello --target deploy/hello.yaml`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCreate(cmd.Context(), cmd.OutOrStdout(), p, &o, args[0])
		},
	}
	// kn gives a new Service strict unless told otherwise.
	o.service.NewSecurityContext = flags.SecurityContextStrict
	o.add(cmd, p)
	cmd.Flags().StringVarP(&o.filename, filenameFlag, "f", "", "start from the Service in this YAML or JSON file; the other flags change it")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace the Service if one of this name exists")
	return cmd
}

const filenameFlag = "filename"

// createOptions are the flags of fw service create.
type createOptions struct {
	writeOptions
	filename string
	force    bool
	// declaresAll is set for fw service apply, where the flags declare
	// the whole Service.
	declaresAll bool
}

func runCreate(ctx context.Context, out io.Writer, p *params.Params, o *createOptions, name string) error {
	svc, err := o.declared(name)
	if err != nil {
		return err
	}
	client, ns, err := p.Connect()
	if err != nil {
		return err
	}
	if err := o.inNamespace(svc, ns); err != nil {
		return err
	}
	created, err := client.Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if apierrs.IsAlreadyExists(err) && o.force {
		replaced, err := replace(ctx, client, svc)
		if err != nil {
			return err
		}
		return report(ctx, out, client, replaced, "Replaced", &o.writeOptions)
	}
	if apierrs.IsAlreadyExists(err) {
		return fmt.Errorf("a Service %s already exists in namespace %s: change it with fw service update %s, use fw service apply, or replace it with --force",
			name, ns, name)
	}
	if err != nil {
		return fmt.Errorf("creating Service %s: %w", name, err)
	}
	return report(ctx, out, client, created, "Created", &o.writeOptions)
}

// declared is the Service that the file and the flags declare, checked
// before anything is sent.
func (o *createOptions) declared(name string) (*servingv1.Service, error) {
	if _, err := o.wait.Wait(); err != nil {
		return nil, err
	}
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if o.filename != "" {
		var err error
		if svc, err = readService(o.filename, name); err != nil {
			return nil, err
		}
	}
	if !hasImage(svc) && o.service.Image == "" {
		if o.declaresAll {
			return nil, fmt.Errorf("--image is required: fw service apply declares the whole Service, image included (fw service update %s changes one setting alone)", name)
		}
		return nil, o.service.RequireImage()
	}
	if err := o.service.Apply(svc); err != nil {
		return nil, err
	}
	return svc, nil
}

// inNamespace puts svc in ns, the namespace fw works in, refusing a file
// that names another.
func (o *createOptions) inNamespace(svc *servingv1.Service, ns string) error {
	if svc.Namespace != "" && svc.Namespace != ns {
		return fmt.Errorf("%s puts the Service in namespace %s, but fw works in namespace %s: give -n %s, or remove the namespace from the file",
			o.filename, svc.Namespace, ns, svc.Namespace)
	}
	svc.Namespace = ns
	return nil
}

// readService reads the Service of -f/--filename, keeping only what a
// user may set on a new Service.
func readService(path, name string) (*servingv1.Service, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", filenameFlag, err)
	}
	var svc servingv1.Service
	if err := yaml.UnmarshalStrict(b, &svc); err != nil {
		return nil, fmt.Errorf("--%s %s is not a Service: %w", filenameFlag, path, err)
	}
	if gvk := servingv1.SchemeGroupVersion.WithKind("Service"); svc.Kind != "" && (svc.Kind != gvk.Kind || svc.APIVersion != gvk.GroupVersion().String()) {
		return nil, fmt.Errorf("--%s %s holds a %s %s; want kind: Service, apiVersion: %s", filenameFlag, path, svc.APIVersion, svc.Kind, gvk.GroupVersion())
	}
	if svc.Name != "" && svc.Name != name {
		return nil, fmt.Errorf("--%s %s names the Service %s, but the command names it %s: make them the same, or remove the name from the file",
			filenameFlag, path, svc.Name, name)
	}
	return &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: svc.Namespace, Labels: svc.Labels, Annotations: svc.Annotations},
		Spec:       svc.Spec,
	}, nil
}

func hasImage(svc *servingv1.Service) bool {
	c := svc.Spec.Template.Spec.ServingContainer()
	return c != nil && c.Image != ""
}

// replace makes the existing Service of svc's name what svc says, as
// --force asks, keeping only the record of who created it.
func replace(ctx context.Context, client servingv1client.ServingV1Interface, svc *servingv1.Service) (*servingv1.Service, error) {
	var replaced *servingv1.Service
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		existing, err := client.Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("replacing Service %s: %w", svc.Name, err)
		}
		next := existing.DeepCopy()
		next.Spec = svc.Spec
		next.Labels = svc.Labels
		next.Annotations = maps.Clone(svc.Annotations)
		if creator, ok := serving.CreatorAnnotation.Get(existing.Annotations); ok {
			if next.Annotations == nil {
				next.Annotations = map[string]string{}
			}
			next.Annotations[serving.CreatorAnnotation.String()] = creator
		}
		replaced, err = client.Services(svc.Namespace).Update(ctx, next, metav1.UpdateOptions{})
		if err != nil && !apierrs.IsConflict(err) {
			return fmt.Errorf("replacing Service %s: %w", svc.Name, err)
		}
		return err
	})
	return replaced, err
}

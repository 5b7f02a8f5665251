package revision

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

// NewRevisionDescribeCommand returns `fw revision describe`.
func NewRevisionDescribeCommand(p *params.Params) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a Revision: image and digest, settings, replicas, traffic, conditions",
		Example: `  fw revision describe hello-00001
  fw revision describe hello-00001 -o yaml`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDescribe(cmd.Context(), cmd.OutOrStdout(), p, output, args[0])
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &output)
	return cmd
}

func exactlyOneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("give the name of one Revision, e.g. hello-00001 (got %d arguments)", len(args))
	}
	return nil
}

func runDescribe(ctx context.Context, out io.Writer, p *params.Params, output, name string) error {
	if err := printers.CheckOutput(output); err != nil {
		return err
	}
	client, ns, err := p.Connect()
	if err != nil {
		return err
	}
	rev, err := params.Get(ctx, client.Revisions(ns).Get, "Revision", ns, name)
	if err != nil {
		return err
	}
	if output != "" {
		return printers.PrintObject(out, output, rev)
	}
	traffic, err := routingByRevision(ctx, client, ns)
	if err != nil {
		return err
	}
	return describe(out, p.Now(), rev, routingOf(traffic, rev))
}

func describe(out io.Writer, now time.Time, rev *servingv1.Revision, routed routing) error {
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	printers.Field(tw, "Name", rev.Name)
	printers.Field(tw, "Namespace", rev.Namespace)
	if s := rev.Labels[serving.ServiceLabel.String()]; s != "" {
		printers.Field(tw, "Service", s)
	}
	printers.Field(tw, "Generation", rev.Labels[serving.ConfigurationGenerationLabel.String()])
	printers.Field(tw, "Age", printers.Age(now, rev.CreationTimestamp))

	image, digest := printers.Image(rev)
	printers.Field(tw, "Image", image)
	if digest == "" {
		digest = "not resolved yet"
	}
	printers.Field(tw, "Digest", digest)
	if c := rev.Spec.ServingContainer(); c != nil {
		for _, port := range c.Ports {
			value := strconv.Itoa(int(port.ContainerPort))
			if port.Name != "" {
				value += " (" + port.Name + ")"
			}
			printers.Field(tw, "Port", value)
		}
		printers.Container(tw, c, &rev.Spec.PodSpec)
	}
	if t := rev.Spec.TimeoutSeconds; t != nil {
		printers.Field(tw, "Timeout", strconv.FormatInt(*t, 10)+"s")
	}
	concurrency := "no limit"
	if n := rev.Spec.GetContainerConcurrency(); n > 0 {
		concurrency = strconv.FormatInt(n, 10) + " requests per pod"
	}
	printers.Field(tw, "Concurrency", concurrency)
	if scale := scaleBounds(rev.Annotations); scale != "" {
		printers.Field(tw, "Scale", scale)
	}
	printers.Field(tw, "Replicas", replicas(rev))
	if routed.percent > 0 || len(routed.tags) > 0 {
		value := fmt.Sprintf("%d%%", routed.percent)
		if len(routed.tags) > 0 {
			value += ", tags " + strings.Join(routed.tags, ", ")
		}
		printers.Field(tw, "Traffic", value)
		printers.Fields(tw, "Tag URLs", routed.urls)
	}
	printers.Fields(tw, "Annotations", printers.KeyValues(rev.Annotations))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return printers.Conditions(out, now, rev.Status.Conditions)
}

// scaleBounds summarises the autoscaling annotations a user sets most.
func scaleBounds(annotations map[string]string) string {
	var parts []string
	for _, b := range []struct {
		label string
		key   serving.AnnotationKey
	}{
		{"min", serving.MinScaleAnnotation},
		{"max", serving.MaxScaleAnnotation},
		{"target", serving.TargetAnnotation},
	} {
		if v, ok := b.key.Get(annotations); ok {
			parts = append(parts, b.label+" "+v)
		}
	}
	return strings.Join(parts, ", ")
}

func replicas(rev *servingv1.Revision) string {
	count := func(n *int32) string {
		if n == nil {
			return "?"
		}
		return strconv.Itoa(int(*n))
	}
	return count(rev.Status.DesiredReplicas) + " desired, " + count(rev.Status.ActualReplicas) + " actual"
}

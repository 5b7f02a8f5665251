package service

import (
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
	"flywheel.dev/pkg/commands/printers"
)

// advisedResources are the requests right-sizing advises on, in the
// order describe shows them.
var advisedResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}

// rightSizing prints, for each Revision with right-sizing advice on, its
// serving container's requests and what the VPA recommends, e.g.
// "cpu 500m → 120m, memory 128Mi → 48Mi", or why there is no advice yet.
// It prints nothing when no Revision asked for advice.
func rightSizing(out io.Writer, revs []servingv1.Revision) error {
	var t *printers.Table
	for i := range revs {
		r := &revs[i]
		cond := r.Status.GetCondition(servingv1.RevisionConditionResourcesRecommended)
		if cond == nil {
			continue
		}
		if t == nil {
			fmt.Fprintln(out)
			fmt.Fprintln(out, "Right-sizing (requests now → recommended; advice only, fw service update --apply-recommendation applies it):")
			t = printers.NewTable(out, "  ", "REVISION", "CONTAINER", "REQUESTS")
		}
		container, advice := "", cond.Message
		if rec := r.Status.ResourceRecommendation; rec != nil {
			container, advice = rec.ContainerName, recommendationChange(currentRequests(&r.Spec, rec.ContainerName), rec.Target)
		} else if advice == "" {
			advice = cond.Reason
		}
		t.Row(r.Name, container, advice)
	}
	if t == nil {
		return nil
	}
	return t.Flush()
}

// currentRequests are the requests of the named container of spec.
func currentRequests(spec *servingv1.RevisionSpec, container string) corev1.ResourceList {
	for _, c := range spec.Containers {
		if c.Name == container {
			return c.Resources.Requests
		}
	}
	return nil
}

// mebibyte is the unit memory advice is rounded up to.
const mebibyte = 1 << 20

// asRequest is the request advice amounts to: the recommender's
// quantity, memory rounded up to a whole Mi. It writes memory in bytes
// ("52428800"), which reads badly in describe and in a manifest; what
// describe shows is what --apply-recommendation writes.
func asRequest(name corev1.ResourceName, q resource.Quantity) resource.Quantity {
	if name != corev1.ResourceMemory {
		return q.DeepCopy()
	}
	mib := (q.Value() + mebibyte - 1) / mebibyte
	return *resource.NewQuantity(mib*mebibyte, resource.BinarySI)
}

// recommendationChange writes each advised resource as "cpu 500m →
// 120m"; a request the container does not set reads "unset".
func recommendationChange(current, recommended corev1.ResourceList) string {
	var parts []string
	for _, name := range advisedResources {
		want, ok := recommended[name]
		if !ok {
			continue
		}
		now := "unset"
		if q, ok := current[name]; ok {
			now = q.String()
		}
		want = asRequest(name, want)
		parts = append(parts, fmt.Sprintf("%s %s → %s", name, now, want.String()))
	}
	return strings.Join(parts, ", ")
}

// applyRecommendation sets the requests of the template's serving
// container to what the VPA recommends for the Service's latest Ready
// Revision, leaving the rest of the template as it is. The Service then
// makes a new Revision with them.
func applyRecommendation(ctx context.Context, client servingv1client.ServingV1Interface, svc, edited *servingv1.Service) error {
	latest := svc.Status.LatestReadyRevisionName
	if latest == "" {
		return fmt.Errorf("no recommendation to apply: Service %s has no Ready Revision", svc.Name)
	}
	rev, err := client.Revisions(svc.Namespace).Get(ctx, latest, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading Revision %s: %w", latest, err)
	}
	rec := rev.Status.ResourceRecommendation
	if rec == nil || len(rec.Target) == 0 {
		why := "its recommender has not advised yet"
		if c := rev.Status.GetCondition(servingv1.RevisionConditionResourcesRecommended); c == nil {
			why = fmt.Sprintf("right-sizing advice is off for it: turn it on with --annotation %s=%s, let it serve a while, then apply",
				autoscaling.RightSizingAnnotation, config.RightSizingAdvise)
		} else if c.Message != "" {
			why = c.Message
		}
		return fmt.Errorf("no recommendation to apply for Revision %s: %s", latest, why)
	}
	c := edited.Spec.Template.Spec.ServingContainer()
	if c == nil {
		return fmt.Errorf("the Service's template has no serving container to apply the recommendation of Revision %s to", latest)
	}
	// A template's container may be unnamed; the Revision's then got
	// the default name, which is the one advised.
	if c.Name != "" && c.Name != rec.ContainerName {
		return fmt.Errorf("the recommendation of Revision %s is for container %s, which the Service's template no longer serves from", latest, rec.ContainerName)
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	for _, name := range advisedResources {
		advised, ok := rec.Target[name]
		if !ok {
			continue
		}
		want := asRequest(name, advised)
		if limit, ok := c.Resources.Limits[name]; ok && limit.Cmp(want) < 0 {
			return fmt.Errorf("the recommended %s request %s is above the container's %s limit %s: raise or remove the limit first",
				name, want.String(), name, limit.String())
		}
		c.Resources.Requests[name] = want
	}
	return nil
}

package traffic

import (
	"errors"
	"fmt"
	"slices"

	apierrs "k8s.io/apimachinery/pkg/api/errors"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	listers "flywheel.dev/pkg/client/listers/serving/v1"
)

// Target is one traffic target resolved to a Revision.
type Target struct {
	// Tag gives the target a host of its own and a header value.
	Tag string
	// RevisionName is the Revision the target sends traffic to.
	RevisionName string
	// ConfigurationName is the Configuration whose latest ready Revision
	// the target follows; empty for a target that names its Revision.
	ConfigurationName string
	// LatestRevision is whether the target follows the Configuration.
	LatestRevision bool
	// Percent is the target's share of the Route's main hosts.
	Percent int64
}

// Resolve resolves each target of traffic, in order. A target that cannot
// be served yet is left out and reported as a *TargetError: the first
// whose Configuration or Revision is missing or failed, or else the first
// that is still coming up, since a failure is what the user must act on.
// Any other error is a failure to read and is returned as such.
func Resolve(traffic []v1.TrafficTarget, configs listers.ConfigurationNamespaceLister, revs listers.RevisionNamespaceLister) ([]Target, error) {
	targets := make([]Target, 0, len(traffic))
	var worst *TargetError
	for i := range traffic {
		t, err := resolve(&traffic[i], configs, revs)
		var te *TargetError
		switch {
		case errors.As(err, &te):
			if worst == nil || (te.Failed() && !worst.Failed()) {
				worst = te
			}
		case err != nil:
			return nil, err
		default:
			targets = append(targets, t)
		}
	}
	if worst != nil {
		return targets, worst
	}
	return targets, nil
}

// resolve resolves one target. A target names a revisionName or a
// configurationName; the webhook refuses any other shape.
func resolve(tt *v1.TrafficTarget, configs listers.ConfigurationNamespaceLister, revs listers.RevisionNamespaceLister) (Target, error) {
	t := Target{Tag: tt.Tag, Percent: ptrValue(tt.Percent)}
	if tt.RevisionName != "" {
		rev, err := revs.Get(tt.RevisionName)
		switch {
		case apierrs.IsNotFound(err):
			return t, &TargetError{Kind: KindRevision, Name: tt.RevisionName, Reason: Missing}
		case err != nil:
			return t, fmt.Errorf("getting Revision %s: %w", tt.RevisionName, err)
		case rev.IsFailed():
			return t, &TargetError{Kind: KindRevision, Name: tt.RevisionName, Reason: Failed}
		case !rev.IsReady():
			return t, &TargetError{Kind: KindRevision, Name: tt.RevisionName, Reason: NotReady}
		}
		t.RevisionName = rev.Name
		return t, nil
	}

	cfg, err := configs.Get(tt.ConfigurationName)
	switch {
	case apierrs.IsNotFound(err):
		return t, &TargetError{Kind: KindConfiguration, Name: tt.ConfigurationName, Reason: Missing}
	case err != nil:
		return t, fmt.Errorf("getting Configuration %s: %w", tt.ConfigurationName, err)
	}
	name := cfg.Status.LatestReadyRevisionName
	if name == "" {
		if cfg.Status.GetCondition(v1.ConfigurationConditionReady).IsFalse() {
			return t, &TargetError{Kind: KindConfiguration, Name: cfg.Name, Reason: Failed}
		}
		return t, &TargetError{Kind: KindConfiguration, Name: cfg.Name, Reason: NotReady}
	}
	// The Configuration's status can lag behind its Revisions: one just
	// deleted, or not yet in the lister, cannot take traffic, and the
	// Configuration will name another soon.
	rev, err := revs.Get(name)
	switch {
	case apierrs.IsNotFound(err):
		return t, &TargetError{Kind: KindConfiguration, Name: cfg.Name, Reason: NotReady}
	case err != nil:
		return t, fmt.Errorf("getting Revision %s: %w", name, err)
	case !rev.IsReady():
		return t, &TargetError{Kind: KindConfiguration, Name: cfg.Name, Reason: NotReady}
	}
	t.RevisionName = name
	t.ConfigurationName = cfg.Name
	t.LatestRevision = true
	return t, nil
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// Merge returns targets with those that send traffic to the same Revision
// under the same tag, in the same way (following the Configuration or
// not), made one, at the place of the first and with the percents added:
// two untagged targets to one Revision are one share of the split.
func Merge(targets []Target) []Target {
	type key struct {
		tag, revision, configuration string
		latest                       bool
	}
	merged := make([]Target, 0, len(targets))
	at := map[key]int{}
	for _, t := range targets {
		k := key{t.Tag, t.RevisionName, t.ConfigurationName, t.LatestRevision}
		if i, ok := at[k]; ok {
			merged[i].Percent += t.Percent
			continue
		}
		at[k] = len(merged)
		merged = append(merged, t)
	}
	return merged
}

// RevisionNames returns the Revisions targets send traffic to, sorted,
// each once.
func RevisionNames(targets []Target) []string {
	var names []string
	for _, t := range targets {
		names = append(names, t.RevisionName)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Kinds of object a TargetError names.
const (
	KindConfiguration = "Configuration"
	KindRevision      = "Revision"
)

// Reason is why a target cannot be served.
type Reason int

// The reasons a target cannot be served.
const (
	// Missing: the object it names does not exist.
	Missing Reason = iota
	// NotReady: the Revision, or the Configuration's first ready one, is
	// still coming up.
	NotReady
	// Failed: the Revision failed, or the Configuration has no ready
	// Revision and its latest failed.
	Failed
)

// TargetError says which target of a Route cannot be served, and why.
type TargetError struct {
	// Kind is KindConfiguration or KindRevision.
	Kind string
	// Name is the name of the object the target refers to.
	Name string
	// Reason is why it cannot be served.
	Reason Reason
}

// Error implements error.
func (e *TargetError) Error() string {
	switch e.Reason {
	case Missing:
		return fmt.Sprintf("%s %q referenced in traffic not found", e.Kind, e.Name)
	case Failed:
		return fmt.Sprintf("%s %q failed", e.Kind, e.Name)
	default:
		return fmt.Sprintf("%s %q is not ready", e.Kind, e.Name)
	}
}

// Failed reports whether the target failed for good, short of a change by
// the user, rather than still coming up.
func (e *TargetError) Failed() bool { return e.Reason != NotReady }

// MarkBadTrafficTarget records the error on the Route's
// AllTrafficAssigned condition.
func (e *TargetError) MarkBadTrafficTarget(rs *v1.RouteStatus) {
	switch {
	case e.Reason == Missing:
		rs.MarkMissingTrafficTarget(e.Kind, e.Name)
	case e.Kind == KindConfiguration && e.Reason == Failed:
		rs.MarkConfigurationFailed(e.Name)
	case e.Kind == KindConfiguration:
		rs.MarkConfigurationNotReady(e.Name)
	case e.Reason == Failed:
		rs.MarkRevisionFailed(e.Name)
	default:
		rs.MarkRevisionNotReady(e.Name)
	}
}

// Config is a Route's traffic as it is to be served.
type Config struct {
	// Targets are the merged targets, with rollouts applied, in the order
	// of the Route's spec.
	Targets []Target
	// Revisions holds every Revision a target names, by name.
	Revisions map[string]*v1.Revision
}

// Tags returns the tags of the targets, in order.
func (c *Config) Tags() []string {
	var tags []string
	for _, t := range c.Targets {
		if t.Tag != "" {
			tags = append(tags, t.Tag)
		}
	}
	return tags
}

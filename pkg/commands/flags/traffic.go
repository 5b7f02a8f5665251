package flags

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/utils/ptr"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// TrafficEdit is what --untag, --tag and --traffic ask for, applied in
// that order so that one command can tag a revision and route by the new
// tag.
type TrafficEdit struct {
	// Untag lists tags to remove.
	Untag []string
	// Tag lists REF=TAG, REF being a revision name or @latest.
	Tag []string
	// Split lists REF=PERCENT, REF being a tag, a revision name or
	// @latest. When set, the targets it does not name get no traffic.
	Split []string
}

// EditTraffic returns targets changed as edit says. An empty traffic
// block means what the API defaults it to: everything to the latest
// ready revision.
func EditTraffic(targets []servingv1.TrafficTarget, edit TrafficEdit) ([]servingv1.TrafficTarget, error) {
	out := make([]servingv1.TrafficTarget, 0, len(targets)+len(edit.Tag)+len(edit.Split))
	for i := range targets {
		out = append(out, *targets[i].DeepCopy())
	}
	if len(out) == 0 {
		out = append(out, servingv1.TrafficTarget{LatestRevision: ptr.To(true), Percent: ptr.To[int64](percentTotal)})
	}
	var err error
	if out, err = untag(out, edit.Untag); err != nil {
		return nil, err
	}
	if out, err = tag(out, edit.Tag); err != nil {
		return nil, err
	}
	if len(edit.Split) > 0 {
		return split(out, edit.Split)
	}
	return out, nil
}

func untag(targets []servingv1.TrafficTarget, tags []string) ([]servingv1.TrafficTarget, error) {
	for _, t := range tags {
		i := slices.IndexFunc(targets, func(tt servingv1.TrafficTarget) bool { return tt.Tag == t })
		if i < 0 {
			return nil, fmt.Errorf("--%s %s: no traffic target has this tag; %s", untagFlag, t, describeTags(targets))
		}
		if percent(targets[i]) == 0 {
			// A target with neither traffic nor a tag does nothing.
			targets = slices.Delete(targets, i, i+1)
			continue
		}
		targets[i].Tag = ""
	}
	return targets, nil
}

func tag(targets []servingv1.TrafficTarget, pairs []string) ([]servingv1.TrafficTarget, error) {
	for _, pair := range pairs {
		ref, t, ok := strings.Cut(pair, keyValueSeparator)
		if !ok || ref == "" || t == "" {
			return nil, fmt.Errorf("--%s %q: want REVISION=TAG, or %s=TAG for the latest ready revision", tagFlag, pair, latestRevisionRef)
		}
		if i := slices.IndexFunc(targets, func(tt servingv1.TrafficTarget) bool { return tt.Tag == t }); i >= 0 {
			if refersTo(targets[i], ref) {
				continue // already so: applying the same flags twice changes nothing
			}
			return nil, fmt.Errorf("--%s %s: the tag %s already names %s; move it with --%s %s --%s %s",
				tagFlag, pair, t, refName(targets[i]), untagFlag, t, tagFlag, pair)
		}
		if i := slices.IndexFunc(targets, func(tt servingv1.TrafficTarget) bool { return tt.Tag == "" && refersTo(tt, ref) }); i >= 0 {
			targets[i].Tag = t
			continue
		}
		tt := newTarget(ref, 0)
		tt.Tag = t
		targets = append(targets, tt)
	}
	return targets, nil
}

func split(targets []servingv1.TrafficTarget, pairs []string) ([]servingv1.TrafficTarget, error) {
	percents := make(map[int]int64, len(pairs)) // index in targets → percent
	var added []servingv1.TrafficTarget
	seen := map[string]bool{}
	var sum int64
	for _, pair := range pairs {
		ref, value, ok := strings.Cut(pair, keyValueSeparator)
		p, err := strconv.ParseInt(value, 10, 64)
		if !ok || ref == "" || err != nil || p < 0 || p > percentTotal {
			return nil, fmt.Errorf("--%s %q: want REF=PERCENT with PERCENT from 0 to %d and REF a tag, a revision name or %s",
				trafficFlag, pair, percentTotal, latestRevisionRef)
		}
		if seen[ref] {
			return nil, fmt.Errorf("--%s: %s is given more than once; give each target one percentage", trafficFlag, ref)
		}
		seen[ref] = true
		sum += p
		if i := resolve(targets, ref); i >= 0 {
			percents[i] = p
			continue
		}
		added = append(added, newTarget(ref, p))
	}
	if sum != percentTotal {
		return nil, fmt.Errorf("--%s %s: the percentages add up to %d, not %d; change them so that they do, e.g. --%s %s=%d",
			trafficFlag, strings.Join(pairs, ","), sum, percentTotal, trafficFlag, latestRevisionRef, percentTotal)
	}
	out := make([]servingv1.TrafficTarget, 0, len(targets)+len(added))
	for i, tt := range slices.Concat(targets, added) {
		if i < len(targets) {
			// Targets the split does not name lose their traffic.
			tt.Percent = ptr.To(percents[i])
		}
		if percent(tt) == 0 && tt.Tag == "" {
			continue
		}
		out = append(out, tt)
	}
	return out, nil
}

// resolve finds the target ref names: a tag first, then an untagged
// target of that revision, or the untagged latest-revision target for
// @latest. It returns -1 when there is none.
func resolve(targets []servingv1.TrafficTarget, ref string) int {
	if i := slices.IndexFunc(targets, func(tt servingv1.TrafficTarget) bool { return tt.Tag == ref }); i >= 0 {
		return i
	}
	return slices.IndexFunc(targets, func(tt servingv1.TrafficTarget) bool { return tt.Tag == "" && refersTo(tt, ref) })
}

func newTarget(ref string, p int64) servingv1.TrafficTarget {
	if ref == latestRevisionRef {
		return servingv1.TrafficTarget{LatestRevision: ptr.To(true), Percent: ptr.To(p)}
	}
	return servingv1.TrafficTarget{RevisionName: ref, LatestRevision: ptr.To(false), Percent: ptr.To(p)}
}

func refersTo(tt servingv1.TrafficTarget, ref string) bool {
	if ref == latestRevisionRef {
		return isLatest(tt)
	}
	return !isLatest(tt) && tt.RevisionName == ref
}

// isLatest reports whether tt follows the latest ready revision; a target
// without a revision name does, as the API defaults it.
func isLatest(tt servingv1.TrafficTarget) bool {
	if tt.LatestRevision != nil {
		return *tt.LatestRevision
	}
	return tt.RevisionName == ""
}

func refName(tt servingv1.TrafficTarget) string {
	if isLatest(tt) {
		return latestRevisionRef
	}
	return tt.RevisionName
}

func percent(tt servingv1.TrafficTarget) int64 {
	return ptr.Deref(tt.Percent, 0)
}

func describeTags(targets []servingv1.TrafficTarget) string {
	var tags []string
	for _, tt := range targets {
		if tt.Tag != "" {
			tags = append(tags, tt.Tag)
		}
	}
	if len(tags) == 0 {
		return "the Service has no tags"
	}
	return "the tags are " + strings.Join(tags, ", ")
}

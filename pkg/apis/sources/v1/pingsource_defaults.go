package v1

import "context"

// DefaultSchedule is a PingSource's schedule when it names none, as in
// Knative: every minute.
const DefaultSchedule = "* * * * *"

// SetDefaults gives a PingSource the default schedule when it names none,
// and its sink's ref the PingSource's namespace.
func (p *PingSource) SetDefaults(context.Context) {
	if p.Spec.Schedule == "" {
		p.Spec.Schedule = DefaultSchedule
	}
	setSinkDefaults(&p.Spec.SourceSpec, p.Namespace)
}

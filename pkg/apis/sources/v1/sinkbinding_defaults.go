package v1

import "context"

// SetDefaults gives a SinkBinding's subject, and its sink's ref, the
// binding's namespace when they name none.
func (sb *SinkBinding) SetDefaults(context.Context) {
	if sb.Spec.Subject.Namespace == "" {
		sb.Spec.Subject.Namespace = sb.Namespace
	}
	setSinkDefaults(&sb.Spec.SourceSpec, sb.Namespace)
}

package apiserver

import (
	"fmt"

	"flywheel.dev/pkg/apis/sources"
)

// Change is what happened to a watched object.
type Change int

// The changes an adapter reports, in the order status.ceAttributes lists
// the types of their events.
const (
	Added Change = iota
	Updated
	Deleted
)

// Changes lists every Change.
var Changes = []Change{Added, Updated, Deleted}

func (c Change) String() string {
	switch c {
	case Added:
		return "add"
	case Updated:
		return "update"
	case Deleted:
		return "delete"
	}
	return fmt.Sprintf("Change(%d)", int(c))
}

// EventType is the type of the event that reports change: a resource
// type when the event carries the whole object (Resource mode), a ref
// type when it carries a reference to it (Reference mode).
func EventType(change Change, wholeObject bool) string {
	switch {
	case change == Added && wholeObject:
		return sources.ApiServerSourceAddEventType
	case change == Updated && wholeObject:
		return sources.ApiServerSourceUpdateEventType
	case change == Deleted && wholeObject:
		return sources.ApiServerSourceDeleteEventType
	case change == Added:
		return sources.ApiServerSourceAddRefEventType
	case change == Updated:
		return sources.ApiServerSourceUpdateRefEventType
	default:
		return sources.ApiServerSourceDeleteRefEventType
	}
}

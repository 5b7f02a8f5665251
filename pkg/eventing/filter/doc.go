// Package filter decides which events a Trigger delivers: Compile turns a
// Trigger's attribute filter and its Subscriptions API filters into a Filter
// once, and the broker's dispatcher calls Filter.Match for every event.
//
// An event matches when it matches the attribute filter and every entry of
// the filters list; with neither, every event matches. The rules:
//
//   - The attribute filter (spec.filter.attributes) asks each named
//     attribute to equal its value exactly. The empty value asks only that
//     the event has the attribute.
//   - exact, prefix and suffix compare an attribute's string form with
//     their value, case-sensitively. An event that lacks the attribute does
//     not match. An exact filter with the empty value, which validation
//     allows, means the same as the empty value of the attribute filter.
//   - all matches when every nested filter matches, so an empty all matches
//     every event. any matches when at least one nested filter matches, so
//     an empty any matches none: the Subscriptions API defines any by "at
//     least one nested filter expression evaluates to true", and requires
//     the list not to be empty. not matches when its nested filter does not.
//   - cesql matches when the CloudEvents SQL expression evaluates to the
//     boolean true. A value of another type, or an evaluation error such as
//     a missing attribute, is no match.
//
// Attributes are looked up by their lower-case name: the context attributes
// specversion, id, source, type, subject, datacontenttype, dataschema and
// time, and any other name as an extension. Their string forms are those of
// the CloudEvents SDK's types.Format: URIs as written, time as RFC 3339 in
// UTC with nanoseconds, integers in decimal, booleans as true or false,
// binary values in base64. A context attribute is present when its string
// form is not empty; an extension when the event carries it, even empty.
//
// A Filter holds no state that changes, so one serves concurrent callers.
// Checks within all and any run cheapest first (plain string attributes,
// then URIs and times, CESQL last). The exact, prefix and suffix checks
// allocate nothing for context attributes and for string, integer, boolean,
// URI and time extensions, as long as a URI is a plain scheme, host and path
// or a plain relative path; one with a query, a fragment, user information
// or escaped characters is formatted into a new string.
package filter

package printers

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// Table writes aligned columns. Call Row for each line and Flush at the
// end.
type Table struct {
	out    io.Writer
	buf    bytes.Buffer
	tw     *tabwriter.Writer
	indent string
}

// NewTable starts a table with the given column headers, each line
// indented by indent.
func NewTable(w io.Writer, indent string, headers ...string) *Table {
	t := &Table{out: w, indent: indent}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 4, 2, ' ', 0)
	t.Row(headers...)
	return t
}

// Row adds a line.
func (t *Table) Row(columns ...string) {
	fmt.Fprintln(t.tw, t.indent+strings.Join(columns, "\t"))
}

// Flush writes the table out, without the padding that empty last
// columns leave at the ends of lines.
func (t *Table) Flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(t.buf.String()) {
		if _, err := fmt.Fprintln(t.out, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}

// Age is how long ago t was, as kubectl shows it: 5m, 3h, 2d.
func Age(now time.Time, t metav1.Time) string {
	if t.IsZero() {
		return ""
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// Ready returns the status and reason of the Ready condition, "Unknown"
// when there is none yet.
func Ready(conds []apis.Condition) (status, reason string) {
	for _, c := range conds {
		if c.Type == apis.ConditionReady {
			return string(c.Status), c.Reason
		}
	}
	return string(corev1.ConditionUnknown), ""
}

// Pods returns a Revision's scale as "actual/desired", "?" for a figure
// not reported yet.
func Pods(actual, desired *int32) string {
	count := func(n *int32) string {
		if n == nil {
			return "?"
		}
		return strconv.Itoa(int(*n))
	}
	return count(actual) + "/" + count(desired)
}

// Active returns a Revision's Active condition as a column: its status,
// with its reason when it has one ("False NoTraffic": scaled to zero,
// the activator takes its requests), empty before it is reported.
func Active(conds []apis.Condition) string {
	for _, c := range conds {
		if c.Type == servingv1.RevisionConditionActive {
			if c.Reason == "" {
				return string(c.Status)
			}
			return string(c.Status) + " " + c.Reason
		}
	}
	return ""
}

// RequestPath returns where a Revision's requests go by its
// ActivatorInPath condition: "activator" and the reason, or "pods"; empty
// before the autoscaler said.
func RequestPath(conds []apis.Condition) string {
	for _, c := range conds {
		if c.Type != servingv1.RevisionConditionActivatorInPath {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			return strings.TrimSpace("activator " + c.Reason)
		case corev1.ConditionFalse:
			return "pods"
		}
	}
	return ""
}

// URL returns u as text, empty for none.
func URL(u *apis.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// Field writes one "Label: value" line of a description, aligned with
// the others of its section by a tabwriter w.
func Field(w io.Writer, label, value string) {
	fmt.Fprintf(w, "%s:\t%s\n", label, value)
}

// Conditions writes a section with a line for each condition.
func Conditions(w io.Writer, now time.Time, conds []apis.Condition) error {
	fmt.Fprintln(w, "Conditions:")
	if len(conds) == 0 {
		fmt.Fprintln(w, "  none reported yet")
		return nil
	}
	t := NewTable(w, "  ", "TYPE", "STATUS", "REASON", "AGE", "MESSAGE")
	for _, c := range conds {
		t.Row(string(c.Type), string(c.Status), c.Reason, Age(now, c.LastTransitionTime.Inner), c.Message)
	}
	return t.Flush()
}

// Traffic writes a section with a line for each traffic target: its
// share, the revision (and whether it follows the latest), its tag and
// the tag's URL.
func Traffic(w io.Writer, targets []servingv1.TrafficTarget) error {
	fmt.Fprintln(w, "Traffic:")
	if len(targets) == 0 {
		fmt.Fprintln(w, "  none")
		return nil
	}
	t := NewTable(w, "  ", "PERCENT", "REVISION", "TAG", "URL")
	for _, tt := range targets {
		t.Row(fmt.Sprintf("%d%%", ptr.Deref(tt.Percent, 0)), TargetRevision(tt), tt.Tag, URL(tt.URL))
	}
	return t.Flush()
}

// TargetRevision names the revision of a target, marking one that
// follows the latest ready revision: "@latest (hello-00002)".
func TargetRevision(tt servingv1.TrafficTarget) string {
	latest := ptr.Deref(tt.LatestRevision, tt.RevisionName == "" && tt.ConfigurationName == "")
	switch {
	case latest && tt.RevisionName != "":
		return "@latest (" + tt.RevisionName + ")"
	case latest && tt.ConfigurationName != "":
		return "@latest of " + tt.ConfigurationName
	case latest:
		return "@latest"
	}
	return tt.RevisionName
}

// Fields writes a label with several values, one a line; nothing when
// there are none.
func Fields(w io.Writer, label string, values []string) {
	for i, v := range values {
		if i == 0 {
			Field(w, label, v)
			continue
		}
		fmt.Fprintf(w, "\t%s\n", v)
	}
}

// KeyValues renders a map as sorted KEY=VALUE lines.
func KeyValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// Image returns the image of a revision's serving container as the user
// gave it (the tag that a client locked to a digest, when one did) and
// the digest the platform pinned it to, if known yet.
func Image(r *servingv1.Revision) (image, digest string) {
	c := r.Spec.ServingContainer()
	if c == nil {
		return "", ""
	}
	image = serving.UserImage(r.Annotations, c.Image)
	for i, cs := range r.Status.ContainerStatuses {
		if cs.Name == c.Name || (cs.Name == "" && i == 0) {
			return image, cs.ImageDigest
		}
	}
	return image, ""
}

// shortDigestHex is how many hex digits of a digest a table shows, as
// container tools do.
const shortDigestHex = 12

// ShortDigest shortens image@sha256:0123… to sha256:0123456789ab for a
// table; describe shows the whole of it.
func ShortDigest(digest string) string {
	if i := strings.LastIndex(digest, "@"); i >= 0 {
		digest = digest[i+1:]
	}
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok || len(hex) <= shortDigestHex {
		return digest
	}
	return algo + ":" + hex[:shortDigestHex]
}

// ListTable is the Table of a list command: a NAMESPACE column comes
// first when the list spans namespaces.
type ListTable struct {
	*Table
	allNamespaces bool
}

// NewListTable starts a ListTable with the given column headers.
func NewListTable(w io.Writer, allNamespaces bool, headers ...string) *ListTable {
	if allNamespaces {
		headers = slices.Insert(headers, 0, "NAMESPACE")
	}
	return &ListTable{Table: NewTable(w, "", headers...), allNamespaces: allNamespaces}
}

// Object adds the line of an object in namespace ns.
func (t *ListTable) Object(ns string, columns ...string) {
	if t.allNamespaces {
		columns = slices.Insert(columns, 0, ns)
	}
	t.Row(columns...)
}

// NoneFound says that a list of kind (plural, e.g. "Services") came back
// empty, naming namespace ns unless the list spanned all of them.
func NoneFound(w io.Writer, kind, ns string, allNamespaces bool) {
	if allNamespaces {
		fmt.Fprintf(w, "No %s found.\n", kind)
		return
	}
	fmt.Fprintf(w, "No %s found in namespace %s.\n", kind, ns)
}

package flags

import (
	"crypto/rand"
	"fmt"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// editMetadata applies the label, annotation and visibility flags to the
// Service and its revision template. The flags for one of the two
// (--label-service, --annotation-revision, ...) come after the flags for
// both, so that they win.
func (f *ServiceFlags) editMetadata(svc *servingv1.Service) error {
	tmpl := &svc.Spec.Template
	if f.changed(labelFlag) {
		if err := editKeyValues(labelFlag, f.Labels, &svc.Labels, &tmpl.Labels); err != nil {
			return err
		}
	}
	if f.changed(labelServiceFlag) {
		if err := editKeyValues(labelServiceFlag, f.LabelsService, &svc.Labels); err != nil {
			return err
		}
	}
	if f.changed(labelRevisionFlag) {
		if err := editKeyValues(labelRevisionFlag, f.LabelsRevision, &tmpl.Labels); err != nil {
			return err
		}
	}
	if f.changed(annotationFlag) {
		if err := editAnnotations(&svc.Annotations, &tmpl.Annotations, f.Annotations); err != nil {
			return err
		}
	}
	if f.changed(annotationServiceFlag) {
		if err := editKeyValues(annotationServiceFlag, f.AnnotationsService, &svc.Annotations); err != nil {
			return err
		}
	}
	if f.changed(annotationRevisionFlag) {
		if err := editKeyValues(annotationRevisionFlag, f.AnnotationsRevision, &tmpl.Annotations); err != nil {
			return err
		}
	}
	return f.editVisibility(&svc.Labels)
}

// editAnnotations sets KEY=VALUE and removes KEY- on the Service and its
// template. Autoscaling annotations mean something only on a revision, so
// they are set on the template alone (and removed from both).
func editAnnotations(service, template *map[string]string, edits []string) error {
	for _, e := range edits {
		targets := []*map[string]string{service, template}
		if key, _, set := strings.Cut(e, keyValueSeparator); set && serving.IsAutoscalingAnnotation(key) {
			targets = targets[1:]
		}
		if err := editKeyValues(annotationFlag, []string{e}, targets...); err != nil {
			return err
		}
	}
	return nil
}

// editKeyValues sets KEY=VALUE and removes KEY- in each of maps, as the
// label and annotation flags do.
func editKeyValues(flag string, edits []string, maps ...*map[string]string) error {
	for _, e := range edits {
		if key, ok := removal(e); ok {
			for _, m := range maps {
				delete(*m, key)
			}
			continue
		}
		key, value, ok := strings.Cut(e, keyValueSeparator)
		if !ok || key == "" {
			return fmt.Errorf("--%s %q: want KEY=VALUE to set it or KEY- to remove it", flag, e)
		}
		for _, m := range maps {
			setKey(m, key, value)
		}
	}
	return nil
}

func setKey(m *map[string]string, key, value string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[key] = value
}

// editVisibility sets or removes the label that keeps the Service's URL
// inside the cluster.
func (f *ServiceFlags) editVisibility(labels *map[string]string) error {
	local, notLocal := f.changed(clusterLocalFlag) && f.ClusterLocal, f.changed(noClusterLocalFlag) && f.NoClusterLocal
	switch {
	case local && notLocal:
		return fmt.Errorf("--%s and --%s contradict each other: give one of them", clusterLocalFlag, noClusterLocalFlag)
	case local:
		setKey(labels, serving.VisibilityLabel.String(), serving.VisibilityClusterLocal)
	case notLocal || f.changed(clusterLocalFlag):
		delete(*labels, serving.VisibilityLabel.String())
	}
	return nil
}

// revisionNameData is what a --revision-name template may use.
type revisionNameData struct {
	// Service is the Service's name.
	Service string
	// Generation is the generation the Service has once this change is
	// written: 1 for a new Service.
	Generation int64
}

// Random returns n random lowercase consonants, so that names made
// from the same template differ.
func (revisionNameData) Random(n int) string {
	const consonants = "bcdfghjklmnpqrstvwxz"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = consonants[int(b[i])%len(consonants)]
	}
	return string(b)
}

// revisionName expands --revision-name for svc and checks that the name
// is one a Revision of svc can have.
func (f *ServiceFlags) revisionName(svc *servingv1.Service) (string, error) {
	tmpl, err := template.New(revisionNameFlag).Option("missingkey=error").Parse(f.RevisionName)
	if err != nil {
		return "", fmt.Errorf("--%s %q: %w; the template may use {{.Service}}, {{.Generation}} and {{.Random N}}", revisionNameFlag, f.RevisionName, err)
	}
	var name strings.Builder
	if err := tmpl.Execute(&name, revisionNameData{Service: svc.Name, Generation: svc.Generation + 1}); err != nil {
		return "", fmt.Errorf("--%s %q: %w; the template may use {{.Service}}, {{.Generation}} and {{.Random N}}", revisionNameFlag, f.RevisionName, err)
	}
	expanded := name.String()
	if expanded == "" {
		return "", nil
	}
	if !strings.HasPrefix(expanded, svc.Name+"-") {
		return "", fmt.Errorf("--%s %q: a Revision's name starts with its Service's name and a dash, e.g. %s-v2 or {{.Service}}-{{.Generation}}",
			revisionNameFlag, f.RevisionName, svc.Name)
	}
	if errs := validation.IsDNS1123Label(expanded); len(errs) > 0 {
		return "", fmt.Errorf("--%s %q: %q is not a valid name: %s", revisionNameFlag, f.RevisionName, expanded, strings.Join(errs, "; "))
	}
	return expanded, nil
}

// nameRevision sets the template's name after the flags edited the
// template (original is the Service before them):
//   - --revision-name gives the name, except that a name it generates is
//     not used when the template is otherwise as it was, so that running
//     the same command again makes no new Revision;
//   - without it, a name the user chose earlier is dropped when the
//     template changes, so that the server generates one: the old name
//     belongs to the old Revision, and the API refuses to reuse it.
func (f *ServiceFlags) nameRevision(original, edited *servingv1.Service) error {
	before, after := original.Spec.Template.DeepCopy(), edited.Spec.Template.DeepCopy()
	before.Name, after.Name = "", ""
	templateChanged := !equality.Semantic.DeepEqual(before, after)
	if !f.changed(revisionNameFlag) {
		if templateChanged && edited.Spec.Template.Name == original.Spec.Template.Name {
			edited.Spec.Template.Name = ""
		}
		return nil
	}
	name, err := f.revisionName(edited)
	if err != nil {
		return err
	}
	generated := strings.Contains(f.RevisionName, "{{")
	if generated && !templateChanged && original.Spec.Template.Name != "" {
		return nil
	}
	edited.Spec.Template.Name = name
	return nil
}

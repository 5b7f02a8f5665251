package flags

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// Names of the flags, as the errors and the change checks spell them.
const (
	imageFlag         = "image"
	envFlag           = "env"
	portFlag          = "port"
	concurrencyFlag   = "concurrency-limit"
	annotationFlag    = "annotation"
	scaleMinFlag      = "scale-min"
	scaleMaxFlag      = "scale-max"
	scaleTargetFlag   = "scale-target"
	tagFlag           = "tag"
	untagFlag         = "untag"
	trafficFlag       = "traffic"
	pullSecretFlag    = "pull-secret"
	removeSuffix      = "-"
	keyValueSeparator = "="
	portNameSeparator = ":"
	latestRevisionRef = "@latest"
	maxPort           = 65535
	percentTotal      = 100
)

// ServiceFlags are the flags that shape a Service.
type ServiceFlags struct {
	Image            string
	Env              []string
	Port             string
	ConcurrencyLimit int64
	Annotations      []string
	ScaleMin         int64
	ScaleMax         int64
	ScaleTarget      int64
	Tags             []string
	Untags           []string
	Traffic          []string
	PullSecret       string

	// set tells which flags were given; a flag not given changes nothing.
	set *pflag.FlagSet
}

// Add registers the flags on fs.
func (f *ServiceFlags) Add(fs *pflag.FlagSet) {
	f.set = fs
	fs.StringVar(&f.Image, imageFlag, "", "container image to run, e.g. ko://example.com/hello or an image reference")
	fs.StringArrayVarP(&f.Env, envFlag, "e", nil,
		"environment variable NAME=VALUE of the container; NAME- removes it (repeatable)")
	fs.StringVarP(&f.Port, portFlag, "p", "",
		"port the container listens on, optionally with the protocol: 8080, http1:8080 or h2c:8080")
	fs.Int64Var(&f.ConcurrencyLimit, concurrencyFlag, 0,
		"most requests one pod handles at once (containerConcurrency); 0 means no limit")
	fs.StringArrayVarP(&f.Annotations, annotationFlag, "a", nil,
		"annotation KEY=VALUE of the Service and its revisions; KEY- removes it (repeatable); autoscaling.knative.dev keys go on revisions only")
	fs.Int64Var(&f.ScaleMin, scaleMinFlag, 0, "fewest pods of a revision (autoscaling.knative.dev/min-scale); 0 allows scale to zero")
	fs.Int64Var(&f.ScaleMax, scaleMaxFlag, 0, "most pods of a revision (autoscaling.knative.dev/max-scale); 0 means no limit")
	fs.Int64Var(&f.ScaleTarget, scaleTargetFlag, 0, "in-flight requests per pod the autoscaler aims for (autoscaling.knative.dev/target)")
	fs.StringSliceVar(&f.Tags, tagFlag, nil,
		"give a revision its own URL: REVISION=TAG, or @latest=TAG for the latest ready revision (repeatable, comma separated)")
	fs.StringSliceVar(&f.Untags, untagFlag, nil, "remove a tag and its URL (repeatable, comma separated)")
	fs.StringVar(&f.PullSecret, pullSecretFlag, "",
		"Secret (kubernetes.io/dockerconfigjson) the node pulls the image with, as kn's --pull-secret; \"\" removes it")
	fs.StringSliceVar(&f.Traffic, trafficFlag, nil,
		"split traffic: REF=PERCENT where REF is a tag, a revision name or @latest; the percentages must add up to 100 (repeatable, comma separated)")
}

func (f *ServiceFlags) changed(name string) bool {
	return f.set != nil && f.set.Changed(name)
}

// ChangesTraffic reports whether a flag that edits the traffic block was
// given.
func (f *ServiceFlags) ChangesTraffic() bool {
	return f.changed(tagFlag) || f.changed(untagFlag) || f.changed(trafficFlag)
}

// RequireImage fails when --image was not given, as creating a Service
// needs it.
func (f *ServiceFlags) RequireImage() error {
	if f.Image == "" {
		return fmt.Errorf("--%s is required to create a Service: the container image to run, e.g. --%s ko://example.com/hello", imageFlag, imageFlag)
	}
	return nil
}

// Check refuses malformed flags without a Service to apply them to, so
// that a command can fail on them before it connects. Errors that depend
// on the Service (an --untag of a tag it lacks) wait for Apply.
func (f *ServiceFlags) Check() error {
	scratch := &servingv1.Service{}
	if err := f.applyTemplate(scratch); err != nil {
		return err
	}
	if f.ChangesTraffic() {
		_, err := EditTraffic(nil, TrafficEdit{Tag: f.Tags, Split: f.Traffic})
		return err
	}
	return nil
}

// Apply changes svc as the given flags say and leaves the rest alone. It
// checks every flag before it changes anything, so that on error svc is
// as it was.
func (f *ServiceFlags) Apply(svc *servingv1.Service) error {
	edited := svc.DeepCopy()
	if err := f.applyTemplate(edited); err != nil {
		return err
	}
	if f.ChangesTraffic() {
		traffic, err := EditTraffic(edited.Spec.Traffic, TrafficEdit{Untag: f.Untags, Tag: f.Tags, Split: f.Traffic})
		if err != nil {
			return err
		}
		edited.Spec.Traffic = traffic
	}
	*svc = *edited
	return nil
}

func (f *ServiceFlags) applyTemplate(svc *servingv1.Service) error {
	tmpl := &svc.Spec.Template
	container := servingContainer(&tmpl.Spec)

	if f.changed(imageFlag) {
		if f.Image == "" {
			return fmt.Errorf("--%s is empty: give the container image to run", imageFlag)
		}
		container.Image = f.Image
	}
	if f.changed(pullSecretFlag) {
		tmpl.Spec.ImagePullSecrets = nil
		if f.PullSecret != "" {
			tmpl.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: f.PullSecret}}
		}
	}
	if f.changed(envFlag) {
		env, err := editEnv(container.Env, f.Env)
		if err != nil {
			return err
		}
		container.Env = env
	}
	if f.changed(portFlag) {
		port, err := parsePort(f.Port)
		if err != nil {
			return err
		}
		// Keep what the API filled in (a protocol) when the port is the
		// same, so that repeating a command changes nothing.
		if len(container.Ports) != 1 || container.Ports[0].Name != port.Name || container.Ports[0].ContainerPort != port.ContainerPort {
			container.Ports = []corev1.ContainerPort{port}
		}
	}
	if f.changed(concurrencyFlag) {
		if f.ConcurrencyLimit < 0 {
			return fmt.Errorf("--%s %d: must be 0 (no limit) or more", concurrencyFlag, f.ConcurrencyLimit)
		}
		tmpl.Spec.ContainerConcurrency = ptr.To(f.ConcurrencyLimit)
	}
	if f.changed(annotationFlag) {
		if err := editAnnotations(&svc.Annotations, &tmpl.Annotations, f.Annotations); err != nil {
			return err
		}
	}
	return f.applyScale(&tmpl.Annotations)
}

// servingContainer returns the container the flags edit, adding one to an
// empty template.
func servingContainer(spec *servingv1.RevisionSpec) *corev1.Container {
	if c := spec.ServingContainer(); c != nil {
		return c
	}
	if len(spec.Containers) == 0 {
		spec.Containers = []corev1.Container{{}}
	}
	return &spec.Containers[0]
}

// editEnv sets NAME=VALUE and removes NAME- in order, keeping the order
// of the variables already there.
func editEnv(env []corev1.EnvVar, edits []string) ([]corev1.EnvVar, error) {
	env = slices.Clone(env)
	for _, e := range edits {
		if name, ok := strings.CutSuffix(e, removeSuffix); ok && !strings.Contains(e, keyValueSeparator) {
			env = slices.DeleteFunc(env, func(v corev1.EnvVar) bool { return v.Name == name })
			continue
		}
		name, value, ok := strings.Cut(e, keyValueSeparator)
		if !ok || name == "" {
			return nil, fmt.Errorf("--%s %q: want NAME=VALUE to set a variable or NAME- to remove it", envFlag, e)
		}
		if slices.Contains(serving.ReservedEnvVars, name) {
			return nil, fmt.Errorf("--%s %q: %s is set by the platform and cannot be set; the reserved names are %s (use --%s for the port)",
				envFlag, e, name, strings.Join(serving.ReservedEnvVars, ", "), portFlag)
		}
		i := slices.IndexFunc(env, func(v corev1.EnvVar) bool { return v.Name == name })
		if i < 0 {
			env = append(env, corev1.EnvVar{Name: name, Value: value})
			continue
		}
		env[i] = corev1.EnvVar{Name: name, Value: value}
	}
	return env, nil
}

// parsePort reads 8080 or NAME:8080, where NAME chooses the protocol.
func parsePort(s string) (corev1.ContainerPort, error) {
	name, number, named := strings.Cut(s, portNameSeparator)
	if !named {
		name, number = "", s
	}
	if named && name != serving.PortNameHTTP1 && name != serving.PortNameH2C {
		return corev1.ContainerPort{}, fmt.Errorf("--%s %q: the protocol before the colon must be %s or %s",
			portFlag, s, serving.PortNameHTTP1, serving.PortNameH2C)
	}
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 || n > maxPort {
		return corev1.ContainerPort{}, fmt.Errorf("--%s %q: want a port number from 1 to %d, optionally after %s: or %s: (e.g. %s:8080)",
			portFlag, s, maxPort, serving.PortNameHTTP1, serving.PortNameH2C, serving.PortNameH2C)
	}
	return corev1.ContainerPort{Name: name, ContainerPort: int32(n)}, nil
}

// editAnnotations sets KEY=VALUE and removes KEY- on the Service and its
// template. Autoscaling annotations mean something only on a revision, so
// they go on the template alone.
func editAnnotations(service, template *map[string]string, edits []string) error {
	for _, e := range edits {
		if key, ok := strings.CutSuffix(e, removeSuffix); ok && !strings.Contains(e, keyValueSeparator) {
			delete(*service, key)
			delete(*template, key)
			continue
		}
		key, value, ok := strings.Cut(e, keyValueSeparator)
		if !ok || key == "" {
			return fmt.Errorf("--%s %q: want KEY=VALUE to set an annotation or KEY- to remove it", annotationFlag, e)
		}
		setKey(template, key, value)
		if !serving.IsAutoscalingAnnotation(key) {
			setKey(service, key, value)
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

// applyScale writes the scale flags as the template's autoscaling
// annotations, and checks that the bounds, with those already set, still
// make sense.
func (f *ServiceFlags) applyScale(annotations *map[string]string) error {
	for _, s := range []struct {
		flag  string
		value int64
		min   int64
		key   serving.AnnotationKey
	}{
		{scaleMinFlag, f.ScaleMin, 0, serving.MinScaleAnnotation},
		{scaleMaxFlag, f.ScaleMax, 0, serving.MaxScaleAnnotation},
		{scaleTargetFlag, f.ScaleTarget, 1, serving.TargetAnnotation},
	} {
		if !f.changed(s.flag) {
			continue
		}
		if s.value < s.min {
			return fmt.Errorf("--%s %d: must be %d or more", s.flag, s.value, s.min)
		}
		setKey(annotations, s.key.String(), strconv.FormatInt(s.value, 10))
	}
	low, lowSet := scaleBound(*annotations, serving.MinScaleAnnotation)
	high, highSet := scaleBound(*annotations, serving.MaxScaleAnnotation)
	if lowSet && highSet && high > 0 && low > high {
		return fmt.Errorf("--%s %d is above --%s %d: the fewest pods cannot exceed the most; raise --%s or lower --%s",
			scaleMinFlag, low, scaleMaxFlag, high, scaleMaxFlag, scaleMinFlag)
	}
	return nil
}

func scaleBound(annotations map[string]string, key serving.AnnotationKey) (int64, bool) {
	v, ok := key.Get(annotations)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

package flags

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// Names of the flags, as the errors and the change checks spell them.
// They are kn's, so that a kn command line works with fw.
const (
	imageFlag              = "image"
	envFlag                = "env"
	envFromFlag            = "env-from"
	envValueFromFlag       = "env-value-from"
	envFileFlag            = "env-file"
	portFlag               = "port"
	cmdFlag                = "cmd"
	argFlag                = "arg"
	userFlag               = "user"
	securityContextFlag    = "security-context"
	pullPolicyFlag         = "pull-policy"
	requestFlag            = "request"
	limitFlag              = "limit"
	serviceAccountFlag     = "service-account"
	timeoutFlag            = "timeout"
	concurrencyFlag        = "concurrency-limit"
	annotationFlag         = "annotation"
	annotationServiceFlag  = "annotation-service"
	annotationRevisionFlag = "annotation-revision"
	labelFlag              = "label"
	labelServiceFlag       = "label-service"
	labelRevisionFlag      = "label-revision"
	clusterLocalFlag       = "cluster-local"
	noClusterLocalFlag     = "no-cluster-local"
	revisionNameFlag       = "revision-name"
	scaleFlag              = "scale"
	scaleMinFlag           = "scale-min"
	scaleMaxFlag           = "scale-max"
	scaleTargetFlag        = "scale-target"
	scaleInitFlag          = "scale-init"
	scaleActivationFlag    = "scale-activation"
	scaleMetricFlag        = "scale-metric"
	scaleUtilizationFlag   = "scale-utilization"
	scaleWindowFlag        = "scale-window"
	tagFlag                = "tag"
	untagFlag              = "untag"
	trafficFlag            = "traffic"
	pullSecretFlag         = "pull-secret"
	removeSuffix           = "-"
	keyValueSeparator      = "="
	portNameSeparator      = ":"
	latestRevisionRef      = "@latest"
	maxPort                = 65535
	percentTotal           = 100
)

// ServiceFlags are the flags that shape a Service.
type ServiceFlags struct {
	// PodFlags shape the serving container and the pod around it.
	PodFlags

	Port                string
	ProbeLiveness       string
	ProbeLivenessOpts   string
	ProbeReadiness      string
	ProbeReadinessOpts  string
	Timeout             int64
	ConcurrencyLimit    int64
	Annotations         []string
	AnnotationsService  []string
	AnnotationsRevision []string
	Labels              []string
	LabelsService       []string
	LabelsRevision      []string
	ClusterLocal        bool
	NoClusterLocal      bool
	RevisionName        string
	LockToDigest        bool
	NoLockToDigest      bool
	Scale               string
	ScaleMin            int64
	ScaleMax            int64
	ScaleTarget         int64
	ScaleInit           int64
	ScaleActivation     int64
	ScaleMetric         string
	ScaleUtilization    int64
	ScaleWindow         string
	Tags                []string
	Untags              []string
	Traffic             []string

	more moreContainers

	// set tells which flags were given; a flag not given changes nothing.
	set *pflag.FlagSet
}

// Add registers the flags on fs.
func (f *ServiceFlags) Add(fs *pflag.FlagSet) {
	f.set = fs
	f.ReservedEnv = serving.ReservedEnvVars
	f.ReservedEnvSetter = "the platform"
	f.PodFlags.Add(fs, "container image to run, e.g. ko://example.com/hello or an image reference")
	fs.StringVarP(&f.Port, portFlag, "p", "",
		"port the container listens on, optionally with the protocol: 8080, http1:8080 or h2c:8080")
	fs.StringVar(&f.ProbeLiveness, probeLivenessFlag, "",
		"liveness probe: http:HOST:PORT:PATH, https:HOST:PORT:PATH, tcp:HOST:PORT or exec:CMD[,ARG...]; \"\" removes it")
	fs.StringVar(&f.ProbeLivenessOpts, probeLivenessOptsFlag, "",
		"liveness probe timing, e.g. InitialDelaySeconds=5,PeriodSeconds=10 (also TimeoutSeconds, SuccessThreshold, FailureThreshold)")
	fs.StringVar(&f.ProbeReadiness, probeReadinessFlag, "",
		"readiness probe: http:HOST:PORT:PATH, https:HOST:PORT:PATH, tcp:HOST:PORT or exec:CMD[,ARG...]; \"\" removes it")
	fs.StringVar(&f.ProbeReadinessOpts, probeReadinessOptsFlag, "",
		"readiness probe timing, e.g. PeriodSeconds=1,FailureThreshold=3 (also InitialDelaySeconds, TimeoutSeconds, SuccessThreshold)")
	fs.Int64Var(&f.Timeout, timeoutFlag, 0, "seconds a request may take before it is cut off (timeoutSeconds)")
	fs.Int64Var(&f.ConcurrencyLimit, concurrencyFlag, 0,
		"most requests one pod handles at once (containerConcurrency); 0 means no limit")
	fs.StringArrayVarP(&f.Annotations, annotationFlag, "a", nil,
		"annotation KEY=VALUE of the Service and its revisions; KEY- removes it (repeatable); autoscaling.knative.dev keys go on revisions only")
	fs.StringArrayVar(&f.AnnotationsService, annotationServiceFlag, nil,
		"annotation KEY=VALUE of the Service alone; KEY- removes it (repeatable; wins over --annotation)")
	fs.StringArrayVar(&f.AnnotationsRevision, annotationRevisionFlag, nil,
		"annotation KEY=VALUE of the revisions alone; KEY- removes it (repeatable; wins over --annotation)")
	fs.StringArrayVarP(&f.Labels, labelFlag, "l", nil,
		"label KEY=VALUE of the Service and its revisions; KEY- removes it (repeatable)")
	fs.StringArrayVar(&f.LabelsService, labelServiceFlag, nil,
		"label KEY=VALUE of the Service alone; KEY- removes it (repeatable; wins over --label)")
	fs.StringArrayVar(&f.LabelsRevision, labelRevisionFlag, nil,
		"label KEY=VALUE of the revisions alone; KEY- removes it (repeatable; wins over --label)")
	fs.BoolVar(&f.ClusterLocal, clusterLocalFlag, false,
		"serve the Service only inside the cluster (label networking.knative.dev/visibility=cluster-local)")
	fs.BoolVar(&f.NoClusterLocal, noClusterLocalFlag, false, "serve the Service outside the cluster too: the opposite of --cluster-local")
	fs.StringVar(&f.RevisionName, revisionNameFlag, "",
		"name of the revision this change makes: SERVICE-SOMETHING, or a template using {{.Service}}, {{.Generation}} and {{.Random N}}; \"\" lets the server name it")
	fs.BoolVar(&f.LockToDigest, lockToDigestFlag, true,
		"when --image is not given, keep running the code of the current revision: the new revision runs the digest its image resolved to (client.knative.dev/user-image keeps the tag)")
	fs.BoolVar(&f.NoLockToDigest, noLockToDigestFlag, false,
		"run the image's tag as resolved afresh by each new revision: the opposite of --lock-to-digest, and back from a digest it locked to the tag")
	fs.StringVar(&f.Scale, scaleFlag, "",
		"pods of a revision: N (exactly), MIN..MAX, MIN.. or ..MAX (sets --scale-min and --scale-max)")
	fs.Int64Var(&f.ScaleMin, scaleMinFlag, 0, "fewest pods of a revision (autoscaling.knative.dev/min-scale); 0 allows scale to zero")
	fs.Int64Var(&f.ScaleMax, scaleMaxFlag, 0, "most pods of a revision (autoscaling.knative.dev/max-scale); 0 means no limit")
	fs.Int64Var(&f.ScaleTarget, scaleTargetFlag, 0, "in-flight requests per pod the autoscaler aims for (autoscaling.knative.dev/target)")
	fs.Int64Var(&f.ScaleInit, scaleInitFlag, 0, "pods a new revision starts with (autoscaling.knative.dev/initial-scale)")
	fs.Int64Var(&f.ScaleActivation, scaleActivationFlag, 0,
		"fewest pods a revision scales to from zero (autoscaling.knative.dev/activation-scale)")
	fs.StringVar(&f.ScaleMetric, scaleMetricFlag, "",
		"what the autoscaler scales on: concurrency (the default) or rps; cpu or memory with the HPA class (autoscaling.knative.dev/metric)")
	fs.Int64Var(&f.ScaleUtilization, scaleUtilizationFlag, 0,
		"percent of the target the autoscaler fills before it adds pods, 1 to 100 (autoscaling.knative.dev/target-utilization-percentage)")
	fs.StringVar(&f.ScaleWindow, scaleWindowFlag, "",
		"how far back the autoscaler looks, e.g. 60s; a revision idle for that long scales to zero (autoscaling.knative.dev/window)")
	f.more.add(fs)
	fs.StringSliceVar(&f.Tags, tagFlag, nil,
		"give a revision its own URL: REVISION=TAG, or @latest=TAG for the latest ready revision (repeatable, comma separated)")
	fs.StringSliceVar(&f.Untags, untagFlag, nil, "remove a tag and its URL (repeatable, comma separated)")
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

// Check refuses malformed flags without the Service to apply them to,
// so that a command can fail on them before it connects. Errors that
// depend on the Service (an --untag of a tag it lacks) wait for Apply.
func (f *ServiceFlags) Check(name string) error {
	scratch := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := f.applyTemplate(scratch, scratch.DeepCopy(), checkOnly); err != nil {
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
	if err := f.applyTemplate(svc, edited, !checkOnly); err != nil {
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

// checkOnly tells applyTemplate and ApplyPod that they edit a scratch
// object, for Check: what depends on the Service's template (the volumes
// a mount names, the probe that timing flags change) is checked for its
// form alone.
const checkOnly = true

// applyTemplate applies every flag but the traffic ones to edited, a copy
// of original.
func (f *ServiceFlags) applyTemplate(original, edited *servingv1.Service, scratch bool) error {
	tmpl := &edited.Spec.Template
	container := servingContainer(&tmpl.Spec)
	imageBefore := container.Image
	if err := f.ApplyPod(&tmpl.Spec.PodSpec, container, scratch); err != nil {
		return err
	}
	if err := f.editUserImage(tmpl, container, imageBefore); err != nil {
		return err
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
	if scratch {
		// The Service may have probes for the timing flags to change.
		container.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
		container.ReadinessProbe = container.LivenessProbe.DeepCopy()
	}
	if err := f.editProbes(container); err != nil {
		return err
	}
	if f.changed(timeoutFlag) {
		if f.Timeout < 1 {
			return fmt.Errorf("--%s %d: want the seconds a request may take, 1 or more (e.g. --%s 300)", timeoutFlag, f.Timeout, timeoutFlag)
		}
		tmpl.Spec.TimeoutSeconds = ptr.To(f.Timeout)
	}
	if f.changed(concurrencyFlag) {
		if f.ConcurrencyLimit < 0 {
			return fmt.Errorf("--%s %d: must be 0 (no limit) or more", concurrencyFlag, f.ConcurrencyLimit)
		}
		tmpl.Spec.ContainerConcurrency = ptr.To(f.ConcurrencyLimit)
	}
	if err := f.editMetadata(edited); err != nil {
		return err
	}
	if err := f.applyScale(&tmpl.Annotations); err != nil {
		return err
	}
	// Last: adding containers may move the serving one in memory.
	if err := f.addContainers(&tmpl.Spec, container); err != nil {
		return err
	}
	return f.nameRevision(original, edited)
}

// editProbes applies the probe flags to the serving container.
func (f *ServiceFlags) editProbes(container *corev1.Container) error {
	liveness, err := editProbe(container.LivenessProbe,
		probeLivenessFlag, f.ProbeLiveness, f.changed(probeLivenessFlag),
		probeLivenessOptsFlag, f.ProbeLivenessOpts, f.changed(probeLivenessOptsFlag))
	if err != nil {
		return err
	}
	readiness, err := editProbe(container.ReadinessProbe,
		probeReadinessFlag, f.ProbeReadiness, f.changed(probeReadinessFlag),
		probeReadinessOptsFlag, f.ProbeReadinessOpts, f.changed(probeReadinessOptsFlag))
	if err != nil {
		return err
	}
	container.LivenessProbe, container.ReadinessProbe = liveness, readiness
	return nil
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

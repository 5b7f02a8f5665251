package flags

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"flywheel.dev/pkg/apis/serving"
)

// PodFlags are kn's flags for a container and the pod around it: its
// image, command, environment, resources and volumes, and the pod's
// service account and pull secret. fw service and fw source container
// share them, as kn's commands do.
type PodFlags struct {
	Image          string
	PullSecret     string
	PullPolicy     string
	Cmd            []string
	Args           []string
	Env            []string
	EnvFrom        []string
	EnvValueFrom   []string
	EnvFile        string
	User           int64
	Requests       []string
	Limits         []string
	Volumes        []string
	Mounts         []string
	ServiceAccount string
	// SecurityContext is --security-context: strict or none.
	SecurityContext string
	// NewSecurityContext, when set, is what a container without a
	// securityContext gets when --security-context is not given: kn's
	// strict for a new Service. Set it before Add.
	NewSecurityContext string

	// ReservedEnv are variables that someone else sets, which the env
	// flags refuse; ReservedEnvSetter says who, for the error: "the
	// platform".
	ReservedEnv       []string
	ReservedEnvSetter string

	set *pflag.FlagSet
}

// Add registers the flags on fs; imageHelp says what the image is for.
func (f *PodFlags) Add(fs *pflag.FlagSet, imageHelp string) {
	f.AddContainer(fs, imageHelp)
	fs.StringVar(&f.PullSecret, pullSecretFlag, "",
		"Secret (kubernetes.io/dockerconfigjson) the node pulls the image with, as kn's --pull-secret; \"\" removes it")
	fs.StringArrayVar(&f.Volumes, volumeFlag, nil,
		"volume NAME=cm:CONFIGMAP, NAME=secret:SECRET, NAME=pvc:CLAIM[:readOnly=true] or ed:NAME[:size=1Gi,type=Memory] (emptyDir); NAME- removes it (repeatable)")
	fs.StringArrayVar(&f.Mounts, mountFlag, nil,
		"mount /PATH=cm:CONFIGMAP, secret:SECRET, pvc:CLAIM, ed:VOLUME or VOLUME, optionally with /SUB/PATH and :readOnly=true|false; /PATH- unmounts (repeatable)")
	fs.StringVar(&f.ServiceAccount, serviceAccountFlag, "", "service account the pods run as; \"\" goes back to the namespace's default")
	fs.StringVar(&f.SecurityContext, securityContextFlag, "", securityContextHelp(f.NewSecurityContext))
}

// AddContainer registers the flags that shape the container alone, not
// the pod around it (volumes, pull secret, service account).
func (f *PodFlags) AddContainer(fs *pflag.FlagSet, imageHelp string) {
	f.set = fs
	fs.StringVar(&f.Image, imageFlag, "", imageHelp)
	fs.StringVar(&f.PullPolicy, pullPolicyFlag, "", "when the node pulls the image: Always, IfNotPresent or Never")
	fs.StringArrayVar(&f.Cmd, cmdFlag, nil,
		"command to run instead of the image's entrypoint, one word per flag (repeatable); \"\" goes back to the entrypoint")
	fs.StringArrayVar(&f.Args, argFlag, nil,
		"argument of the command, one per flag, in order (repeatable); \"\" removes them all")
	fs.StringArrayVarP(&f.Env, envFlag, "e", nil,
		"environment variable NAME=VALUE of the container; NAME- removes it (repeatable)")
	fs.StringArrayVar(&f.EnvFrom, envFromFlag, nil,
		"every key of a ConfigMap (cm:NAME) or Secret (secret:NAME) as variables; a trailing - removes it (repeatable)")
	fs.StringArrayVar(&f.EnvValueFrom, envValueFromFlag, nil,
		"variable NAME from a key of a ConfigMap (NAME=cm:CONFIGMAP:KEY) or Secret (NAME=secret:SECRET:KEY); NAME- removes it (repeatable)")
	fs.StringVar(&f.EnvFile, envFileFlag, "",
		"file of NAME=VALUE lines (# comments) to set as variables; --env and --env-value-from win over it")
	fs.Int64Var(&f.User, userFlag, 0, "user ID the container runs as (securityContext.runAsUser)")
	fs.StringSliceVar(&f.Requests, requestFlag, nil,
		"resources the container requests, NAME=QUANTITY, e.g. cpu=250m,memory=128Mi; NAME- removes one (repeatable)")
	fs.StringSliceVar(&f.Limits, limitFlag, nil,
		"resource limits of the container, NAME=QUANTITY, e.g. cpu=1,memory=256Mi; NAME- removes one (repeatable)")
}

// ImageGiven reports whether --image was given, even empty.
func (f *PodFlags) ImageGiven() bool { return f.changed(imageFlag) }

func (f *PodFlags) changed(name string) bool {
	return f.set != nil && f.set.Changed(name)
}

// ApplyPod changes the pod and its container (one of pod's) as the flags
// say. With checkOnly, pod is a scratch one, and what depends on the real
// pod (the volumes a mount names) is checked for its form alone.
func (f *PodFlags) ApplyPod(pod *corev1.PodSpec, container *corev1.Container, checkOnly bool) error {
	if err := f.ApplyContainer(container); err != nil {
		return err
	}
	if f.changed(pullSecretFlag) {
		pod.ImagePullSecrets = nil
		if f.PullSecret != "" {
			pod.ImagePullSecrets = []corev1.LocalObjectReference{{Name: f.PullSecret}}
		}
	}
	if f.changed(serviceAccountFlag) {
		if problems := validation.IsDNS1123Subdomain(f.ServiceAccount); f.ServiceAccount != "" && len(problems) > 0 {
			return fmt.Errorf("--%s %q: not the name of a service account (%s)", serviceAccountFlag, f.ServiceAccount, strings.Join(problems, "; "))
		}
		pod.ServiceAccountName = f.ServiceAccount
	}
	if checkOnly {
		return checkVolumeFlags(f.Volumes, f.Mounts)
	}
	return editVolumes(pod, container, f.Volumes, f.Mounts)
}

// ApplyContainer changes the container as the flags of AddContainer say.
func (f *PodFlags) ApplyContainer(container *corev1.Container) error {
	if f.changed(imageFlag) {
		if f.Image == "" {
			return fmt.Errorf("--%s is empty: give the container image to run", imageFlag)
		}
		container.Image = f.Image
	}
	if err := f.editEnvironment(container); err != nil {
		return err
	}
	return f.editContainer(container)
}

// notReserved refuses to set a variable that someone else sets.
func (f *PodFlags) notReserved(flag, edit, name string) error {
	if !slices.Contains(f.ReservedEnv, name) {
		return nil
	}
	err := fmt.Errorf("--%s %q: %s is set by %s and cannot be set; the reserved names are %s",
		flag, edit, name, f.ReservedEnvSetter, strings.Join(f.ReservedEnv, ", "))
	if name == serving.EnvPort {
		err = fmt.Errorf("%w (use --%s for the port)", err, portFlag)
	}
	return err
}

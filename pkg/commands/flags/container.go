package flags

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// editContainer applies the flags that shape how the serving container
// runs: its command, arguments, security context, user, pull policy and
// resources.
func (f *PodFlags) editContainer(container *corev1.Container) error {
	if f.changed(cmdFlag) {
		container.Command = wholeList(f.Cmd)
	}
	if f.changed(argFlag) {
		container.Args = wholeList(f.Args)
	}
	if err := f.editSecurityContext(container); err != nil {
		return err
	}
	if f.changed(userFlag) {
		if f.User < 0 {
			return fmt.Errorf("--%s %d: want a user ID, 0 or more (e.g. --%s 1001)", userFlag, f.User, userFlag)
		}
		// However runAsNonRoot came (--security-context strict now or
		// before, kn's default for a new Service, or a file), root would
		// only stop the pod.
		if sc := container.SecurityContext; f.User == 0 && sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
			return fmt.Errorf("--%s 0 runs the container as root, which its runAsNonRoot: true refuses (set by --%s %s, kn's default for a new Service): add --%s %s",
				userFlag, securityContextFlag, SecurityContextStrict, securityContextFlag, SecurityContextNone)
		}
		if container.SecurityContext == nil {
			container.SecurityContext = &corev1.SecurityContext{}
		}
		container.SecurityContext.RunAsUser = ptr.To(f.User)
	}
	if f.changed(pullPolicyFlag) {
		policy, err := parsePullPolicy(f.PullPolicy)
		if err != nil {
			return err
		}
		container.ImagePullPolicy = policy
	}
	if f.changed(requestFlag) {
		requests, err := editResources(container.Resources.Requests, requestFlag, f.Requests)
		if err != nil {
			return err
		}
		container.Resources.Requests = requests
	}
	if f.changed(limitFlag) {
		limits, err := editResources(container.Resources.Limits, limitFlag, f.Limits)
		if err != nil {
			return err
		}
		container.Resources.Limits = limits
	}
	return nil
}

// wholeList is the list a repeatable flag sets: the values given, or none
// when the only one given is empty (--cmd "" goes back to the image's
// entrypoint).
func wholeList(values []string) []string {
	if len(values) == 1 && values[0] == "" {
		return nil
	}
	return slices.Clone(values)
}

func parsePullPolicy(s string) (corev1.PullPolicy, error) {
	for _, p := range []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever} {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("--%s %q: want Always, IfNotPresent or Never", pullPolicyFlag, s)
}

// editResources sets NAME=QUANTITY and removes NAME- in a container's
// requests or limits; flag names which.
func editResources(list corev1.ResourceList, flag string, edits []string) (corev1.ResourceList, error) {
	list = list.DeepCopy()
	for _, e := range edits {
		if name, ok := removal(e); ok {
			delete(list, corev1.ResourceName(name))
			continue
		}
		name, value, ok := strings.Cut(e, keyValueSeparator)
		if !ok || name == "" {
			return nil, fmt.Errorf("--%s %q: want NAME=QUANTITY to set a resource or NAME- to remove it (e.g. --%s cpu=250m,memory=128Mi)",
				flag, e, flag)
		}
		quantity, err := resource.ParseQuantity(value)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %q is not a quantity; want one such as 250m, 1, 128Mi or 1Gi", flag, e, value)
		}
		if list == nil {
			list = corev1.ResourceList{}
		}
		list[corev1.ResourceName(name)] = quantity
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

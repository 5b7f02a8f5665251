package flags

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

const (
	lockToDigestFlag   = "lock-to-digest"
	noLockToDigestFlag = "no-lock-to-digest"
)

// LocksToDigest reports whether a change that makes a new Revision
// should keep the code the Service runs now: --image was not given and
// --no-lock-to-digest was not either.
func (f *ServiceFlags) LocksToDigest() bool {
	return !f.ImageGiven() && f.locking()
}

// locking is what --lock-to-digest and --no-lock-to-digest say together.
func (f *ServiceFlags) locking() bool {
	noLock := f.changed(noLockToDigestFlag) && f.NoLockToDigest
	return f.LockToDigest && !noLock
}

// editUserImage keeps the user-image annotation of tmpl in step with its
// serving container, whose image was before until the flags ran. A new
// --image is what the user asked for; --no-lock-to-digest without one
// goes back from a digest to the image the annotation keeps, so that the
// new Revision resolves its tag afresh.
func (f *ServiceFlags) editUserImage(tmpl *servingv1.RevisionTemplateSpec, container *corev1.Container, before string) error {
	if f.changed(lockToDigestFlag) && f.LockToDigest && f.changed(noLockToDigestFlag) && f.NoLockToDigest {
		return fmt.Errorf("--%s and --%s contradict each other: give one of them", lockToDigestFlag, noLockToDigestFlag)
	}
	switch {
	case f.ImageGiven():
		// Only a new image: writing the annotation on its own would
		// make a Revision that changes nothing.
		if container.Image != before {
			setKey(&tmpl.Annotations, serving.UserImageAnnotation.String(), container.Image)
		}
	case !f.locking() && serving.DigestImage(container.Image):
		container.Image = serving.UserImage(tmpl.Annotations, container.Image)
	}
	return nil
}

// LockToDigest makes the serving container of tmpl, a template that will
// make a new Revision, run the code that base, the Revision the Service
// runs now, runs: the digest base recorded for the same image. The image
// as given stays in the user-image annotation. It changes nothing when
// the image is a digest already or the node builds it (ko://, a path:
// such a build is kept only in a bounded cache, and a changed source
// could not make it again), and says why it cannot lock when base ran
// another image or has no digest recorded.
func LockToDigest(tmpl *servingv1.RevisionTemplateSpec, base *servingv1.Revision) error {
	if !Lockable(tmpl) {
		return nil
	}
	c := tmpl.Spec.ServingContainer()
	ran := base.Spec.ServingContainer()
	if ran == nil || ran.Image != c.Image {
		return fmt.Errorf("the current Revision %s runs another image than %s, so the new Revision resolves %s afresh", base.Name, c.Image, c.Image)
	}
	digest := recordedDigest(base, ran.Name)
	if digest == "" {
		return fmt.Errorf("the current Revision %s has no digest recorded for %s yet, so the new Revision resolves it afresh", base.Name, c.Image)
	}
	setKey(&tmpl.Annotations, serving.UserImageAnnotation.String(), c.Image)
	c.Image = digest
	return nil
}

// Lockable reports whether LockToDigest would lock the serving container
// of tmpl: it runs a registry's image by tag.
func Lockable(tmpl *servingv1.RevisionTemplateSpec) bool {
	c := tmpl.Spec.ServingContainer()
	return c != nil && !serving.DigestImage(c.Image) && !serving.LocalImage(c.Image)
}

// recordedDigest is the digest rev recorded for its container of that
// name, or "".
func recordedDigest(rev *servingv1.Revision, container string) string {
	statuses := rev.Status.ContainerStatuses
	for _, s := range statuses {
		if s.Name == container {
			return s.ImageDigest
		}
	}
	if len(statuses) == 1 && len(rev.Spec.Containers) == 1 {
		return statuses[0].ImageDigest
	}
	return ""
}

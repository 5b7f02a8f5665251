package flags

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// ranRevision is a Revision that ran image and recorded digest for it.
func ranRevision(image, digest string) *servingv1.Revision {
	rev := &servingv1.Revision{
		ObjectMeta: metav1.ObjectMeta{Name: "hello-00001"},
		Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "user-container", Image: image,
		}}}},
	}
	if digest != "" {
		rev.Status.ContainerStatuses = []servingv1.ContainerStatus{{Name: "user-container", ImageDigest: digest}}
	}
	return rev
}

func TestLockToDigest(t *testing.T) {
	const (
		tag    = "example.com/hello:v1"
		digest = "example.com/hello@sha256:aaaa"
	)
	for _, tc := range []struct {
		name     string
		template *servingv1.Service
		base     *servingv1.Revision
		want     *servingv1.Service
		notice   string // what the error must say; "" wants none
	}{{
		name:     "the tag becomes the digest the current revision runs",
		template: service(withImage(tag)),
		base:     ranRevision(tag, digest),
		want:     service(withImage(digest), withTemplateAnnotations(userImage, tag)),
	}, {
		name:     "a digest stays",
		template: service(withImage(digest)),
		base:     ranRevision(digest, digest),
		want:     service(withImage(digest)),
	}, {
		name:     "a local executable stays: its build cannot be made again once the source changes",
		template: service(),
		base:     ranRevision("ko://example.com/hello", "ko://example.com/hello@sha256:bbbb"),
		want:     service(),
	}, {
		name:     "the current revision ran another image",
		template: service(withImage("example.com/hello:v2")),
		base:     ranRevision(tag, digest),
		want:     service(withImage("example.com/hello:v2")),
		notice:   "hello-00001 runs another image than example.com/hello:v2",
	}, {
		name:     "no digest recorded yet",
		template: service(withImage(tag)),
		base:     ranRevision(tag, ""),
		want:     service(withImage(tag)),
		notice:   "hello-00001 has no digest recorded for example.com/hello:v1 yet",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.template.DeepCopy()
			err := LockToDigest(&got.Spec.Template, tc.base)
			switch {
			case tc.notice == "" && err != nil:
				t.Errorf("LockToDigest = %v, want nil", err)
			case tc.notice != "" && (err == nil || !strings.Contains(err.Error(), tc.notice)):
				t.Errorf("LockToDigest = %v, want it to say %q", err, tc.notice)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("template (-want, +got):\n%s", diff)
			}
		})
	}
}

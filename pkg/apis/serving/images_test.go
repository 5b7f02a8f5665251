package serving

import "testing"

func TestUserImage(t *testing.T) {
	for _, tc := range []struct {
		annotation, image, want string
	}{
		{"", "example.com/hello:v1", "example.com/hello:v1"},
		{"example.com/hello:v1", "example.com/hello@sha256:aaaa", "example.com/hello:v1"},
		{"example.com/hello:v1", "example.com/hello:v1@sha256:aaaa", "example.com/hello:v1"},
		{"localhost:5000/hello", "localhost:5000/hello@sha256:aaaa", "localhost:5000/hello"},
		// A stale annotation, of an image someone has since replaced.
		{"example.com/hello:v1", "example.com/other@sha256:aaaa", "example.com/other@sha256:aaaa"},
		{"localhost:5000/hello", "localhost:5001/hello@sha256:aaaa", "localhost:5001/hello@sha256:aaaa"},
		{"ko://example.com/hello", "ko://example.com/hello@sha256:aaaa", "ko://example.com/hello"},
	} {
		annotations := map[string]string{}
		if tc.annotation != "" {
			annotations[UserImageAnnotation.String()] = tc.annotation
		}
		if got := UserImage(annotations, tc.image); got != tc.want {
			t.Errorf("UserImage(%q, %q) = %q, want %q", tc.annotation, tc.image, got, tc.want)
		}
	}
}

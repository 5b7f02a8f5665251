package v1

import (
	"context"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/config"
)

// checkErr fails t unless err is nil when want is empty, or err names
// want (a field path, with enough of the message to tell rules apart).
func checkErr(t *testing.T, err *apis.FieldError, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error; want one naming %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error does not name %q:\n%v", want, err)
	}
}

// validSpec returns a defaulted, valid RevisionSpec for rows to change.
func validSpec() RevisionSpec {
	rs := RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "ko://example.com/hello"}}}}
	rs.SetDefaults(context.Background())
	return rs
}

func withConfig(ctx context.Context, change func(*config.Config)) context.Context {
	c := config.FromContextOrDefaults(ctx)
	d, f, a := *c.Defaults, *c.Features, *c.Autoscaler
	c.Defaults, c.Features, c.Autoscaler = &d, &f, &a
	change(c)
	return config.ToContext(ctx, c)
}

func asUser(ctx context.Context, name string) context.Context {
	return apis.WithUserInfo(ctx, &authenticationv1.UserInfo{Username: name})
}

package config

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	logtesting "knative.dev/pkg/logging/testing"

	apisconfig "flywheel.dev/pkg/apis/config"
)

func TestStore(t *testing.T) {
	s := NewStore(logtesting.TestLogger(t))
	if diff := cmp.Diff(apisconfig.DefaultGC(), FromContext(s.ToContext(context.Background())).GC); diff != "" {
		t.Errorf("before config-gc (-want, +got):\n%s", diff)
	}
	s.OnConfigChanged(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flywheel-system", Name: apisconfig.GCConfigName},
		Data:       map[string]string{"retain-since-create-time": "1h"},
	})
	want := apisconfig.DefaultGC()
	want.RetainSinceCreateTime = time.Hour
	if diff := cmp.Diff(want, FromContext(s.ToContext(context.Background())).GC); diff != "" {
		t.Errorf("after config-gc (-want, +got):\n%s", diff)
	}
}

package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
)

// readyApiServerSource returns the status of an ApiServerSource whose sink
// resolved, whose adapter is available and whose account may watch.
func readyApiServerSource() *ApiServerSourceStatus {
	as := &ApiServerSourceStatus{}
	as.InitializeConditions()
	as.MarkSink(sinkURL)
	as.PropagateDeploymentAvailability(deployment(corev1.ConditionTrue, "MinimumReplicasAvailable", ""))
	as.MarkSufficientPermissions()
	return as
}

func TestApiServerSourceInitializeConditions(t *testing.T) {
	var as ApiServerSourceStatus
	as.InitializeConditions()
	for _, ct := range []apis.ConditionType{
		ApiServerSourceConditionReady, ApiServerSourceConditionSinkProvided,
		ApiServerSourceConditionDeployed, ApiServerSourceConditionSufficientPermissions,
	} {
		if c := as.GetCondition(ct); c == nil || c.Status != corev1.ConditionUnknown {
			t.Errorf("%s = %+v, want Unknown", ct, c)
		}
	}
}

func TestApiServerSourceReadiness(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ApiServerSourceStatus)
		want   apis.Condition
	}{{
		name:   "every dependency ready",
		change: func(*ApiServerSourceStatus) {},
		want:   apis.Condition{Type: ApiServerSourceConditionReady, Status: corev1.ConditionTrue},
	}, {
		name: "the account may not watch",
		change: func(as *ApiServerSourceStatus) {
			as.MarkNoSufficientPermissions("InsufficientPermission", "ServiceAccount %q cannot %s %s", "default", "watch", "configmaps")
		},
		want: apis.Condition{Type: ApiServerSourceConditionReady, Status: corev1.ConditionFalse,
			Reason: "InsufficientPermission", Message: `ServiceAccount "default" cannot watch configmaps`},
	}, {
		name:   "sink does not resolve",
		change: func(as *ApiServerSourceStatus) { as.MarkNoSink("NotFound", "Broker %q not found", "default") },
		want: apis.Condition{Type: ApiServerSourceConditionReady, Status: corev1.ConditionFalse,
			Reason: "NotFound", Message: `Broker "default" not found`},
	}, {
		name: "adapter still rolling out",
		change: func(as *ApiServerSourceStatus) {
			as.PropagateDeploymentAvailability(deployment(corev1.ConditionUnknown, "Rolling", "waiting for rollout"))
		},
		want: apis.Condition{Type: ApiServerSourceConditionReady, Status: corev1.ConditionUnknown,
			Reason: "Rolling", Message: "waiting for rollout"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as := readyApiServerSource()
			tc.change(as)
			checkCondition(t, as.GetCondition(ApiServerSourceConditionReady), tc.want)
		})
	}
}

func TestApiServerSourcePermissionsRestored(t *testing.T) {
	as := readyApiServerSource()
	as.MarkNoSufficientPermissions("InsufficientPermission", "cannot watch")
	as.MarkSufficientPermissions()
	src := &ApiServerSource{Status: *as}
	if !src.IsReady() {
		t.Errorf("IsReady() = false once the permission is granted; Ready = %+v", src.Status.GetCondition(ApiServerSourceConditionReady))
	}
}

package testing

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	palisters "flywheel.dev/pkg/client/listers/autoscaling/v1alpha1"
)

// GetDeploymentLister returns a lister over the row's Deployments.
func (l Listers) GetDeploymentLister() appsv1listers.DeploymentLister {
	return appsv1listers.NewDeploymentLister(l.sorter.IndexerForObjectType(&appsv1.Deployment{}))
}

// GetK8sServiceLister returns a lister over the row's Kubernetes Services
// (GetServiceLister serves Knative Services).
func (l Listers) GetK8sServiceLister() corev1listers.ServiceLister {
	return corev1listers.NewServiceLister(l.sorter.IndexerForObjectType(&corev1.Service{}))
}

// GetPodLister returns a lister over the row's Pods.
func (l Listers) GetPodLister() corev1listers.PodLister {
	return corev1listers.NewPodLister(l.sorter.IndexerForObjectType(&corev1.Pod{}))
}

// GetPodAutoscalerLister returns a lister over the row's PodAutoscalers.
func (l Listers) GetPodAutoscalerLister() palisters.PodAutoscalerLister {
	return palisters.NewPodAutoscalerLister(l.sorter.IndexerForObjectType(&autoscalingv1alpha1.PodAutoscaler{}))
}

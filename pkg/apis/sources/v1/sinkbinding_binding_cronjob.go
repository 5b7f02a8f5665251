package v1

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A CronJob keeps its pod template at spec.jobTemplate.spec.template, one
// level below spec.template where duckv1.WithPod, and so psbinding, look
// for it: psbinding alone would bind a CronJob's empty spec.template and
// change nothing. The binding webhook and the SinkBinding reconciler show
// a CronJob to psbinding as a PodSpecable (CronJobAsPodSpecable) and move
// the patch psbinding makes back where the CronJob keeps its template
// (CronJobPatch). The Jobs it creates then carry the binding from their
// start, which matters because a Job's pod template cannot change once
// the Job exists.

// CronJobKind is the group and kind of a CronJob.
var CronJobKind = schema.GroupKind{Group: "batch", Kind: "CronJob"}

// The two places a pod template can be, as JSON pointers.
const (
	podSpecablePath = "/spec/template"
	cronJobPodPath  = "/spec/jobTemplate/spec/template"
)

// CronJobAsPodSpecable copies a CronJob's pod template, as JSON decodes
// it, to spec.template. It reports false, changing nothing, when the
// object has no job template.
func CronJobAsPodSpecable(cronJob map[string]any) (bool, error) {
	template, found, err := unstructured.NestedFieldNoCopy(cronJob, "spec", "jobTemplate", "spec", "template")
	if err != nil || !found {
		return false, err
	}
	if err := unstructured.SetNestedField(cronJob, template, "spec", "template"); err != nil {
		return false, err
	}
	return true, nil
}

// jsonPatchOperation is one operation of an RFC 6902 JSON patch. Value is
// kept raw so that a value of null survives the round trip.
type jsonPatchOperation struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// CronJobPatch turns a JSON patch of a CronJob shown as a PodSpecable
// (CronJobAsPodSpecable) into a patch of the CronJob: what it changes
// below spec.template it changes below spec.jobTemplate.spec.template.
func CronJobPatch(patch []byte) ([]byte, error) {
	var ops []jsonPatchOperation
	if err := json.Unmarshal(patch, &ops); err != nil {
		return nil, fmt.Errorf("decoding a JSON patch: %w", err)
	}
	for i := range ops {
		ops[i].Path = movePodTemplatePointer(ops[i].Path)
		ops[i].From = movePodTemplatePointer(ops[i].From)
	}
	return json.Marshal(ops)
}

func movePodTemplatePointer(pointer string) string {
	if rest, ok := strings.CutPrefix(pointer, podSpecablePath); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
		return cronJobPodPath + rest
	}
	return pointer
}

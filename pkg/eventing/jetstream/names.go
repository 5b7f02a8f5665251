package jetstream

import (
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// StreamName is a Broker's stream: "broker_<namespace>_<name>". Stream
// names cannot hold '.', which Kubernetes names can; '_' replaces it, and
// no Kubernetes name holds '_', so the name is unambiguous.
func StreamName(broker types.NamespacedName) string {
	return "broker_" + broker.Namespace + "_" + strings.ReplaceAll(broker.Name, ".", "_")
}

// Subject is the one subject of a Broker's stream:
// "broker.<namespace>.<name>", with '.' in the name as '_'.
func Subject(broker types.NamespacedName) string {
	return "broker." + broker.Namespace + "." + strings.ReplaceAll(broker.Name, ".", "_")
}

// ConsumerName is a Trigger's durable consumer: "trigger_<uid>". The UID,
// not the name: a Trigger deleted and made again under the same name is a
// new subscription and starts from new events.
func ConsumerName(triggerUID types.UID) string {
	return "trigger_" + string(triggerUID)
}

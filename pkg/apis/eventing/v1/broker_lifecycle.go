package v1

import (
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// Condition types of a Broker.
const (
	// BrokerConditionReady is True when the Broker accepts events at its
	// address and stores them.
	BrokerConditionReady = apis.ConditionReady
	// BrokerConditionIngress is True when the ingress that serves every
	// Broker has a ready endpoint.
	BrokerConditionIngress apis.ConditionType = "IngressReady"
	// BrokerConditionStream is True when the Broker's JetStream stream
	// exists as its spec says.
	BrokerConditionStream apis.ConditionType = "StreamReady"
	// BrokerConditionAddressable is True when the Broker has an address.
	BrokerConditionAddressable apis.ConditionType = "Addressable"
	// BrokerConditionDeadLetterSinkResolved is True when the Broker's
	// dead-letter sink resolved to a URL, or it has none.
	BrokerConditionDeadLetterSinkResolved apis.ConditionType = "DeadLetterSinkResolved"
)

var brokerCondSet = apis.NewLivingConditionSet(
	BrokerConditionIngress,
	BrokerConditionStream,
	BrokerConditionAddressable,
	BrokerConditionDeadLetterSinkResolved,
)

// GetConditionSet implements duckv1.KRShaped.
func (*Broker) GetConditionSet() apis.ConditionSet { return brokerCondSet }

// IsReady reports whether the status reflects the latest spec and says
// Ready.
func (b *Broker) IsReady() bool {
	return b.Generation == b.Status.ObservedGeneration &&
		b.Status.GetCondition(BrokerConditionReady).IsTrue()
}

// InitializeConditions sets every condition to Unknown.
func (bs *BrokerStatus) InitializeConditions() {
	brokerCondSet.Manage(bs).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (bs *BrokerStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return brokerCondSet.Manage(bs).GetCondition(t)
}

// MarkIngressReady says the ingress has a ready endpoint.
func (bs *BrokerStatus) MarkIngressReady() {
	brokerCondSet.Manage(bs).MarkTrue(BrokerConditionIngress)
}

// MarkIngressNotReady says the ingress has no ready endpoint yet.
func (bs *BrokerStatus) MarkIngressNotReady(reason, format string, args ...any) {
	brokerCondSet.Manage(bs).MarkUnknown(BrokerConditionIngress, reason, format, args...)
}

// MarkStreamReady says the Broker's stream exists.
func (bs *BrokerStatus) MarkStreamReady() {
	brokerCondSet.Manage(bs).MarkTrue(BrokerConditionStream)
}

// MarkStreamFailed says the Broker's stream could not be made.
func (bs *BrokerStatus) MarkStreamFailed(reason, format string, args ...any) {
	brokerCondSet.Manage(bs).MarkFalse(BrokerConditionStream, reason, format, args...)
}

// SetAddress records the Broker's address; nil removes it.
func (bs *BrokerStatus) SetAddress(url *apis.URL) {
	if url == nil {
		bs.Address = nil
		bs.Addresses = nil
		brokerCondSet.Manage(bs).MarkFalse(BrokerConditionAddressable, "NoAddress", "The Broker has no address.")
		return
	}
	name := "http"
	bs.Address = &duckv1.Addressable{Name: &name, URL: url}
	bs.Addresses = []duckv1.Addressable{*bs.Address}
	brokerCondSet.Manage(bs).MarkTrue(BrokerConditionAddressable)
}

// MarkDeadLetterSinkResolved records the resolved dead-letter sink.
func (bs *BrokerStatus) MarkDeadLetterSinkResolved(uri *apis.URL) {
	bs.DeadLetterSinkURI = uri
	brokerCondSet.Manage(bs).MarkTrue(BrokerConditionDeadLetterSinkResolved)
}

// MarkDeadLetterSinkNotConfigured says the Broker has no dead-letter sink,
// which is fine.
func (bs *BrokerStatus) MarkDeadLetterSinkNotConfigured() {
	bs.DeadLetterSinkURI = nil
	brokerCondSet.Manage(bs).MarkTrueWithReason(BrokerConditionDeadLetterSinkResolved, "DeadLetterSinkNotConfigured", "No dead-letter sink is configured.")
}

// MarkDeadLetterSinkResolveFailed says the dead-letter sink does not
// resolve.
func (bs *BrokerStatus) MarkDeadLetterSinkResolveFailed(reason, format string, args ...any) {
	bs.DeadLetterSinkURI = nil
	brokerCondSet.Manage(bs).MarkFalse(BrokerConditionDeadLetterSinkResolved, reason, format, args...)
}

package v1

import (
	"knative.dev/pkg/apis"
)

// ConfigurationConditionReady is True when the latest created Revision of
// the Configuration is ready.
const ConfigurationConditionReady = apis.ConditionReady

// Reasons a Configuration can give on its Ready condition.
const (
	// ReasonLatestCreatedFailed says the newest Revision failed; traffic
	// stays on the latest ready one.
	ReasonLatestCreatedFailed = "LatestCreatedFailed"
	// ReasonRevisionCreationFailed says the Revision could not be created.
	ReasonRevisionCreationFailed = "RevisionFailed"
	// ReasonLatestReadyDeleted says the latest ready Revision was deleted.
	ReasonLatestReadyDeleted = "RevisionDeleted"
)

var configurationCondSet = apis.NewLivingConditionSet()

// GetConditionSet implements duckv1.KRShaped.
func (*Configuration) GetConditionSet() apis.ConditionSet { return configurationCondSet }

// IsReady reports whether the Configuration's status reflects its latest
// spec and says Ready.
func (c *Configuration) IsReady() bool {
	return c.Generation == c.Status.ObservedGeneration &&
		c.Status.GetCondition(ConfigurationConditionReady).IsTrue()
}

// IsLatestReadyRevisionNameUpToDate reports whether the latest created
// Revision is also the latest ready one.
func (c *Configuration) IsLatestReadyRevisionNameUpToDate() bool {
	return c.Status.LatestReadyRevisionName != "" &&
		c.Status.LatestReadyRevisionName == c.Status.LatestCreatedRevisionName
}

// InitializeConditions sets every condition to Unknown.
func (cs *ConfigurationStatus) InitializeConditions() {
	configurationCondSet.Manage(cs).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (cs *ConfigurationStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return configurationCondSet.Manage(cs).GetCondition(t)
}

// SetLatestCreatedRevisionName records the newest Revision. Until it is
// ready the Configuration is not.
func (cs *ConfigurationStatus) SetLatestCreatedRevisionName(name string) {
	cs.LatestCreatedRevisionName = name
	if cs.LatestReadyRevisionName != name {
		configurationCondSet.Manage(cs).MarkUnknown(ConfigurationConditionReady, "",
			"Waiting for revision %q to become ready.", name)
	}
}

// SetLatestReadyRevisionName records the newest ready Revision; when it is
// also the newest created one, the Configuration is Ready.
func (cs *ConfigurationStatus) SetLatestReadyRevisionName(name string) {
	cs.LatestReadyRevisionName = name
	if cs.LatestCreatedRevisionName == name {
		configurationCondSet.Manage(cs).MarkTrue(ConfigurationConditionReady)
	}
}

// MarkLatestCreatedFailed says the newest Revision failed, with its reason.
func (cs *ConfigurationStatus) MarkLatestCreatedFailed(name, message string) {
	configurationCondSet.Manage(cs).MarkFalse(ConfigurationConditionReady, ReasonLatestCreatedFailed,
		"Revision %q failed with message: %s.", name, message)
}

// MarkRevisionCreationFailed says the newest Revision could not be created.
func (cs *ConfigurationStatus) MarkRevisionCreationFailed(message string) {
	configurationCondSet.Manage(cs).MarkFalse(ConfigurationConditionReady, ReasonRevisionCreationFailed,
		"Revision creation failed with message: %s.", message)
}

// MarkLatestReadyDeleted says the latest ready Revision no longer exists.
func (cs *ConfigurationStatus) MarkLatestReadyDeleted() {
	configurationCondSet.Manage(cs).MarkFalse(ConfigurationConditionReady, ReasonLatestReadyDeleted,
		"Revision %q was deleted.", cs.LatestReadyRevisionName)
	cs.LatestReadyRevisionName = ""
}

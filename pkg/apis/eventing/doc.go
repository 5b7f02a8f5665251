// Package eventing holds the names of the Knative Eventing API that live
// outside its Go types: the API groups and the annotation keys Flywheel
// reads or writes on Brokers and Triggers, each one typed constant.
package eventing

// Package config is the typed configuration of Flywheel's API behaviour,
// parsed and validated from ConfigMaps in the system namespace
// (config-defaults, config-features, config-autoscaler) and carried in a
// context so that defaulting and validation see the values in force.
package config

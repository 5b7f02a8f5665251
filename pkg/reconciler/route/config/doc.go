// Package config carries the configuration the Route reconciler reads —
// config-network, config-domain and config-features — into each
// reconciliation, frozen for its length, as the generated reconciler's
// ConfigStore option expects.
package config

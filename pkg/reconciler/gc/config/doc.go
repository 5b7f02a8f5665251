// Package config carries config-gc into each reconciliation of the
// garbage collector, frozen for its length.
package config

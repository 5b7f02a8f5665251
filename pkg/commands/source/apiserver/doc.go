// Package apiserver holds `fw source apiserver`: create, update, list,
// describe and delete ApiServerSources, which send an event for each
// change to the Kubernetes objects they watch, one file per verb.
package apiserver

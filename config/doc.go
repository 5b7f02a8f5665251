// Package config carries Flywheel's installation manifests, the YAML files
// under config/, inside the binaries that install them, so that `fw local
// up`, the integration tests and a cluster install all apply the same
// objects and none of them depends on the source tree being present.
package config

// Package manifest applies Flywheel's manifests (config/) to a cluster
// with server-side apply: CustomResourceDefinitions first, until they are
// Established, then everything else. `fw local up` installs Flywheel with
// it, and the integration tests check every manifest with its dry-run mode.
package manifest

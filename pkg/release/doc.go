// Package release makes Flywheel's release for clusters: the base image
// its component images are built on, the manifest that ko resolves into
// flywheel.yaml (config/ with every image Flywheel publishes named as a
// ko:// import path), and the check that the resolved manifest names only
// published images, by digest. hack/release.sh drives it with ko;
// docs/install.md installs what it makes.
package release

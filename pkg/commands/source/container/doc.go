// Package container holds `fw source container`: create, update, list,
// describe and delete ContainerSources, which run an image that sends
// events to the sink it finds in K_SINK, one file per verb.
package container

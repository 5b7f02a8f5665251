// Package binding holds `fw source binding`: create, update, list,
// describe and delete SinkBindings, which give the pods of their subject
// the sink's URL in K_SINK, one file per verb.
package binding

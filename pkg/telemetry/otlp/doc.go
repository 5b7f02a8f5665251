// Package otlp writes OpenTelemetry's wire format (OTLP's protobuf
// messages, field by field) and sends it to a receiver over HTTP or gRPC,
// for Flywheel's own span and metric exporters (packages otlpspans and
// otlpmetrics).
//
// It exists so that the data-path components do not link the generated
// OTLP messages, the protobuf runtime and grpc-go: with them (and the
// Prometheus client) the queue-proxy sidecar's executable was twice its
// size, reached main 3.7 ms later and held 6 MiB more in memory, for a
// few messages that are simpler to write by hand. gRPC is spoken over
// net/http's HTTP/2 client: a unary call is one POST of a
// length-prefixed message, its status in the trailers.
package otlp

// Package otlpspans is the tracer provider of Flywheel's components: an
// implementation of the OpenTelemetry trace API that records each span
// as one small record and sends the records in batches as OTLP
// (ExportTraceServiceRequest, over HTTP or gRPC), the protocol the
// OpenTelemetry SDK's exporters speak, to any receiver they reach.
//
// It exists for the cost of a traced request on the data path. The
// SDK's tracer provider spends, per span of the sidecar's, about a third
// each starting it (options, IDs, sampler), ending it (a read-only
// snapshot for its batch processor) and converting it to protobuf
// messages for reflection-based marshalling: a quarter to a half of
// what the sidecar spends on the whole request. This package samples
// as the SDK's ParentBased(TraceIDRatioBased) does, keeps no snapshot,
// writes each span in OTLP's wire format as it ends (only those bytes
// wait for the batch), and gives the data paths a start without
// options or a context whose span is reused after End, so that a
// traced request allocates nothing for its span (docs/benchmarks.md,
// "Tracing off and on"). What it leaves out: span processors, custom
// samplers and ID generators.
package otlpspans

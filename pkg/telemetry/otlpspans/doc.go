// Package otlpspans is the tracer provider of Flywheel's components: an
// implementation of the OpenTelemetry trace API that records each span
// as one small record and sends the records in batches as OTLP
// (ExportTraceServiceRequest, over HTTP or gRPC), the protocol the
// OpenTelemetry SDK's exporters speak, to any receiver they reach.
//
// It exists for the cost of a traced request on the data path. The
// SDK's tracer provider spends, per span of the sidecar's, about as much
// CPU starting it, ending it (a read-only snapshot for its batch
// processor) and converting it to protobuf messages (reflection-based
// marshalling) as the sidecar spends on the whole request without
// tracing; this package keeps the span's own record, samples as the
// SDK's ParentBased(TraceIDRatioBased) does, and appends each record to
// the OTLP wire format directly (docs/benchmarks.md, "Tracing off and
// on"). What it does not do, it says: no span processors, no custom
// samplers or ID generators, attribute values of the kinds the API has.
package otlpspans

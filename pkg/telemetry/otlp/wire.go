package otlp

import (
	"math"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/protobuf/encoding/protowire"
)

// The field numbers of OTLP's common messages (opentelemetry-proto:
// common/v1, resource/v1), each named by message and field.
const (
	ResourceAttributes = 1

	ScopeName    = 1
	ScopeVersion = 2

	keyValueKey   = 1
	keyValueValue = 2

	anyString = 1
	anyBool   = 2
	anyInt    = 3
	anyDouble = 4
	anyArray  = 5
	anyBytes  = 7

	arrayValues = 1
)

// Resource is the Resource message of attrs.
func Resource(attrs []attribute.KeyValue) []byte {
	var b []byte
	for _, kv := range attrs {
		b = AppendKeyValue(b, ResourceAttributes, kv)
	}
	return b
}

// Scope is the InstrumentationScope message of a name and version.
func Scope(dst []byte, name, version string) []byte {
	dst = AppendString(dst, ScopeName, name)
	if version != "" {
		dst = AppendString(dst, ScopeVersion, version)
	}
	return dst
}

// AppendKeyValue appends kv as a KeyValue message in field.
func AppendKeyValue(b []byte, field protowire.Number, kv attribute.KeyValue) []byte {
	key := string(kv.Key)
	valueSize := anyValueSize(kv.Value)
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(protowire.SizeTag(keyValueKey)+protowire.SizeBytes(len(key))+
		protowire.SizeTag(keyValueValue)+protowire.SizeBytes(valueSize)))
	b = AppendString(b, keyValueKey, key)
	b = protowire.AppendTag(b, keyValueValue, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(valueSize))
	return appendAnyValue(b, kv.Value)
}

// anyValueSize is the size of v's AnyValue message, which appendAnyValue
// writes: the SDK's exporters' mapping, type for type.
func anyValueSize(v attribute.Value) int {
	switch v.Type() {
	case attribute.EMPTY:
		return 0
	case attribute.BOOL:
		return protowire.SizeTag(anyBool) + 1
	case attribute.INT64:
		return protowire.SizeTag(anyInt) + protowire.SizeVarint(uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return protowire.SizeTag(anyDouble) + protowire.SizeFixed64()
	case attribute.STRING:
		return protowire.SizeTag(anyString) + protowire.SizeBytes(len(v.AsString()))
	case attribute.BYTESLICE:
		return protowire.SizeTag(anyBytes) + protowire.SizeBytes(len(v.AsByteSlice()))
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE:
		return protowire.SizeTag(anyArray) + protowire.SizeBytes(arraySize(v))
	}
	return protowire.SizeTag(anyString) + protowire.SizeBytes(len(invalidValue))
}

// invalidValue is what the SDK's exporters send for a type they do not
// know.
const invalidValue = "INVALID"

// arraySize is the size of the ArrayValue message of a slice value.
func arraySize(v attribute.Value) int {
	n := 0
	each(v, func(e attribute.Value) {
		n += protowire.SizeTag(arrayValues) + protowire.SizeBytes(anyValueSize(e))
	})
	return n
}

func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.EMPTY:
		return b
	case attribute.BOOL:
		b = protowire.AppendTag(b, anyBool, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = protowire.AppendTag(b, anyInt, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return AppendDouble(b, anyDouble, v.AsFloat64())
	case attribute.STRING:
		return AppendString(b, anyString, v.AsString())
	case attribute.BYTESLICE:
		return AppendBytes(b, anyBytes, v.AsByteSlice())
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE:
		b = protowire.AppendTag(b, anyArray, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(arraySize(v)))
		each(v, func(e attribute.Value) {
			b = protowire.AppendTag(b, arrayValues, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(anyValueSize(e)))
			b = appendAnyValue(b, e)
		})
		return b
	}
	return AppendString(b, anyString, invalidValue)
}

// each calls f with each element of a slice value.
func each(v attribute.Value, f func(attribute.Value)) {
	switch v.Type() {
	case attribute.BOOLSLICE:
		for _, e := range v.AsBoolSlice() {
			f(attribute.BoolValue(e))
		}
	case attribute.INT64SLICE:
		for _, e := range v.AsInt64Slice() {
			f(attribute.Int64Value(e))
		}
	case attribute.FLOAT64SLICE:
		for _, e := range v.AsFloat64Slice() {
			f(attribute.Float64Value(e))
		}
	case attribute.STRINGSLICE:
		for _, e := range v.AsStringSlice() {
			f(attribute.StringValue(e))
		}
	case attribute.SLICE:
		for _, e := range v.AsSlice() {
			f(e)
		}
	}
}

// AppendMessage appends m, an encoded message, in field.
func AppendMessage(b []byte, field protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// AppendBytes appends a bytes field.
func AppendBytes(b []byte, field protowire.Number, v []byte) []byte {
	return AppendMessage(b, field, v)
}

// AppendString appends a string field.
func AppendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// AppendTime appends a fixed64 time in nanoseconds since the epoch, as
// OTLP's *_time_unix_nano fields are.
func AppendTime(b []byte, field protowire.Number, unixNano int64) []byte {
	return AppendFixed64(b, field, uint64(unixNano))
}

// AppendFixed64 appends a fixed64 field.
func AppendFixed64(b []byte, field protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, field, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

// AppendDouble appends a double field.
func AppendDouble(b []byte, field protowire.Number, v float64) []byte {
	return AppendFixed64(b, field, math.Float64bits(v))
}

// AppendVarint appends a varint field (an enum, an int64, a uint64).
func AppendVarint(b []byte, field protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// AppendCount appends a count that proto3 leaves out at zero (a dropped
// count, an enum's default).
func AppendCount(b []byte, field protowire.Number, n int) []byte {
	if n == 0 {
		return b
	}
	return AppendVarint(b, field, uint64(n))
}

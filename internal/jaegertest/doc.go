// Package jaegertest runs a real Jaeger (v2, an OpenTelemetry collector
// with Jaeger's storage and query API) for Weft's tests, so that the
// traces they check went through a real OTLP receiver and came back
// through Jaeger's own query API.
//
// [Start] writes a configuration of its own into a temporary directory:
// the OTLP receiver on 127.0.0.1 for gRPC and HTTP, in-memory storage, the
// query API on 127.0.0.1 with Jaeger's tracing of itself off, and the
// health check extension; every port is a free loopback port. It returns
// once the health check and the query API answer. [Jaeger.Traces] reads
// `GET /api/traces?service=NAME`.
//
// The binary comes from scripts/build-tools, which builds Jaeger once into
// a cache outside the repository and exports its path:
//
//	eval "$(scripts/build-tools)"
//
// Tests find it with [Binary]. Jaeger starts in a fraction of a second; a
// package should start one per test run (in TestMain, or in the one test
// that needs it) and share it.
package jaegertest

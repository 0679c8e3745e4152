package telemetry

import (
	"math"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
)

// Config is the policy's `telemetry` section. The zero Config leaves
// tracing and metric pushing to the standard OTEL_* environment variables
// (both off when those name no collector) and logs no requests; metrics
// are always served on the admin endpoint's /metrics.
type Config struct {
	// Tracing configures spans and where they are exported.
	Tracing TracingConfig `yaml:"tracing"`
	// Metrics configures pushing metrics to an OTLP collector.
	Metrics MetricsConfig `yaml:"metrics"`
	// AccessLog, if true, logs one structured line per request served
	// and per call made, at level Info through the node's logger.
	AccessLog bool `yaml:"accessLog"`
}

// TracingConfig configures spans.
type TracingConfig struct {
	// SampleRatio is the share of traces, from 0 to 1, that requests
	// starting a trace here record. Sampling is parent-based: a request
	// that arrives with a trace context follows its caller's decision, so
	// a trace is recorded whole or not at all. If nil,
	// $OTEL_TRACES_SAMPLER and $OTEL_TRACES_SAMPLER_ARG decide; if they
	// are unset too, every trace is recorded (parentbased_always_on).
	SampleRatio *float64 `yaml:"sampleRatio"`
	// OTLP is the collector spans are exported to. If nil, the
	// $OTEL_EXPORTER_OTLP_* variables decide: tracing is on when
	// $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or $OTEL_EXPORTER_OTLP_ENDPOINT
	// is set, or $OTEL_TRACES_EXPORTER is otlp, and off otherwise.
	OTLP *OTLPConfig `yaml:"otlp"`
}

// MetricsConfig configures pushing metrics.
type MetricsConfig struct {
	// OTLP is the collector metrics are pushed to, besides being served
	// on /metrics. If nil, the $OTEL_EXPORTER_OTLP_* variables decide as
	// for tracing (with $OTEL_METRICS_EXPORTER and the METRICS variants).
	OTLP *OTLPConfig `yaml:"otlp"`
	// Interval is the time between pushes. If zero,
	// $OTEL_METRIC_EXPORT_INTERVAL (milliseconds), else 60 s. At least 1 s.
	Interval time.Duration `yaml:"interval"`
}

// OTLPConfig is an OTLP collector to export to.
type OTLPConfig struct {
	// Endpoint is the collector's host:port, such as 127.0.0.1:4317, or a
	// URL (http:// or https://, with a path for OTLP/HTTP). Required.
	Endpoint string `yaml:"endpoint"`
	// Protocol is "grpc" or "http" (OTLP/HTTP with protobuf). If empty,
	// the signal's $OTEL_EXPORTER_OTLP_*_PROTOCOL or
	// $OTEL_EXPORTER_OTLP_PROTOCOL, else grpc.
	Protocol string `yaml:"protocol"`
	// Insecure sends in plaintext. If false, TLS verified with the
	// system's roots (or $OTEL_EXPORTER_OTLP_CERTIFICATE), unless the
	// endpoint is an http:// URL.
	Insecure bool `yaml:"insecure"`
	// Headers are sent with every export, such as a tenant or an API key.
	// If empty, $OTEL_EXPORTER_OTLP_HEADERS applies; keep secrets there
	// rather than in the policy.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one export. If zero, 10 s.
	Timeout time.Duration `yaml:"timeout"`
}

// Protocols an [OTLPConfig] may name.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http"
)

// Validate checks every field of c and returns nil or a fielderr list, one
// problem per key, each key relative to the `telemetry` section
// ("tracing.sampleRatio: must be between 0 and 1, got 2").
func (c Config) Validate() error {
	var es fielderr.List
	if r := c.Tracing.SampleRatio; r != nil && (math.IsNaN(*r) || *r < 0 || *r > 1) {
		es.Add("tracing.sampleRatio", "must be between 0 and 1 (0.01 records one trace in a hundred), got %v", *r)
	}
	c.Tracing.OTLP.validate(&es, "tracing.otlp")
	c.Metrics.OTLP.validate(&es, "metrics.otlp")
	if i := c.Metrics.Interval; i != 0 && i < time.Second {
		es.Add("metrics.interval", "must be at least 1s, got %v; leave it out for 60s", i)
	}
	return es.Err()
}

func (o *OTLPConfig) validate(es *fielderr.List, key string) {
	if o == nil {
		return
	}
	switch o.Protocol {
	case "", ProtocolGRPC, ProtocolHTTP:
	default:
		es.Add(key+".protocol", "unknown protocol %q; use grpc or http", o.Protocol)
	}
	if msg := checkEndpoint(o.Endpoint); msg != "" {
		es.Add(key+".endpoint", "%s", msg)
	}
	for name := range o.Headers {
		if !validHeaderName(name) {
			es.Add(key+".headers", "%q is not a valid header name", name)
		}
	}
	if o.Timeout < 0 {
		es.Add(key+".timeout", "must not be negative, got %v", o.Timeout)
	}
}

// checkEndpoint returns what is wrong with an endpoint, or "".
func checkEndpoint(s string) string {
	if s == "" {
		return "missing; write the collector's host:port, like 127.0.0.1:4317"
	}
	if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		if u.Hostname() == "" {
			return "the URL " + strconv.Quote(s) + " has no host"
		}
		return ""
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return strconv.Quote(s) + " is not host:port or an http(s) URL; write it like 127.0.0.1:4317"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return strconv.Quote(s) + " has no valid port (1 to 65535)"
	}
	return ""
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}

package telemetry

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The two signals whose exporters the environment may configure.
const (
	signalTraces  = "TRACES"
	signalMetrics = "METRICS"
)

// sdkDisabled reports whether $OTEL_SDK_DISABLED turns every signal off.
func sdkDisabled() bool {
	v, _ := strconv.ParseBool(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")))
	return v
}

// otlpEnv returns $OTEL_EXPORTER_OTLP_<SIGNAL>_<name>, else
// $OTEL_EXPORTER_OTLP_<name>.
func otlpEnv(signal, name string) string {
	if v := strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_" + signal + "_" + name)); v != "" {
		return v
	}
	return strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_" + name))
}

// envExporter reports whether the environment asks for an OTLP exporter
// of signal when the policy names none: $OTEL_<SIGNAL>_EXPORTER=otlp, or
// an endpoint variable set and the exporter variable not saying none.
// Exporters other than otlp and none are not built in; asking for one is
// an error.
func envExporter(signal string) (bool, error) {
	if sdkDisabled() {
		return false, nil
	}
	v := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_" + signal + "_EXPORTER")))
	switch v {
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	case "":
		return otlpEnv(signal, "ENDPOINT") != "", nil
	}
	return false, fmt.Errorf("telemetry: $OTEL_%s_EXPORTER=%s is not supported; use otlp or none", signal, v)
}

// protocol returns the OTLP protocol to use: the policy's, else the
// environment's, else grpc.
func protocol(policy, signal string) (string, error) {
	if policy != "" {
		return policy, nil
	}
	switch v := otlpEnv(signal, "PROTOCOL"); v {
	case "", "grpc":
		return ProtocolGRPC, nil
	case "http/protobuf":
		return ProtocolHTTP, nil
	default:
		return "", fmt.Errorf("telemetry: OTLP protocol %q from the environment is not supported; use grpc or http/protobuf", v)
	}
}

// metricInterval returns the push interval: the policy's, else
// $OTEL_METRIC_EXPORT_INTERVAL, else 60 s.
func metricInterval(policy time.Duration) time.Duration {
	if policy > 0 {
		return policy
	}
	if ms, err := strconv.Atoi(strings.TrimSpace(os.Getenv("OTEL_METRIC_EXPORT_INTERVAL"))); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return time.Minute
}

// samplerFor returns the sampler for ratio, or, when ratio is nil, the one
// $OTEL_TRACES_SAMPLER and $OTEL_TRACES_SAMPLER_ARG name (default
// parentbased_always_on). A sampler the environment gets wrong is an
// error, so that a typo does not silently record everything.
func samplerFor(ratio *float64) (sdktrace.Sampler, error) {
	if ratio != nil {
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*ratio)), nil
	}
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
	r := 1.0
	if arg != "" && strings.HasSuffix(name, "traceidratio") {
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || v < 0 || v > 1 {
			return nil, fmt.Errorf("telemetry: $OTEL_TRACES_SAMPLER_ARG=%q is not a ratio between 0 and 1", arg)
		}
		r = v
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(r), nil
	}
	return nil, fmt.Errorf("telemetry: $OTEL_TRACES_SAMPLER=%s is not supported; use parentbased_traceidratio, parentbased_always_on, always_on, always_off or traceidratio", name)
}

// envPropagation returns the propagation $OTEL_PROPAGATORS names, W3C
// trace context and baggage by default.
func envPropagation() (w3cPropagation, error) {
	v := strings.TrimSpace(os.Getenv("OTEL_PROPAGATORS"))
	if v == "" {
		v = "tracecontext,baggage"
	}
	var p w3cPropagation
	for name := range strings.SplitSeq(v, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "tracecontext":
			p.traceContext = true
		case "baggage":
			p.baggage = true
		case "none", "":
		default:
			return p, fmt.Errorf("telemetry: $OTEL_PROPAGATORS names %q, which is not built in; use tracecontext and baggage, or pass a propagator in the node's Config", name)
		}
	}
	return p, nil
}

package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exporterTarget says where a signal is exported, for status pages.
func exporterTarget(proto string, o *OTLPConfig) string {
	if o == nil {
		return "otlp " + proto + " (from $OTEL_EXPORTER_OTLP_*)"
	}
	return "otlp " + proto + " " + o.Endpoint
}

func isURL(endpoint string) bool {
	return strings.HasPrefix(endpoint, "http://") || strings.HasPrefix(endpoint, "https://")
}

// newSpanExporter returns an OTLP span exporter for o, or for the
// environment when o is nil. Options the policy leaves out fall back to
// the exporter's own reading of the OTEL_EXPORTER_OTLP_* variables.
func newSpanExporter(ctx context.Context, o *OTLPConfig) (sdktrace.SpanExporter, string, error) {
	var policyProto string
	if o != nil {
		policyProto = o.Protocol
	}
	proto, err := protocol(policyProto, signalTraces)
	if err != nil {
		return nil, "", err
	}
	target := exporterTarget(proto, o)
	var exp sdktrace.SpanExporter
	if proto == ProtocolHTTP {
		var opts []otlptracehttp.Option
		if o != nil {
			if isURL(o.Endpoint) {
				opts = append(opts, otlptracehttp.WithEndpointURL(o.Endpoint))
			} else {
				opts = append(opts, otlptracehttp.WithEndpoint(o.Endpoint))
			}
			if o.Insecure {
				opts = append(opts, otlptracehttp.WithInsecure())
			}
			if len(o.Headers) > 0 {
				opts = append(opts, otlptracehttp.WithHeaders(o.Headers))
			}
			if o.Timeout > 0 {
				opts = append(opts, otlptracehttp.WithTimeout(o.Timeout))
			}
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	} else {
		var opts []otlptracegrpc.Option
		if o != nil {
			if isURL(o.Endpoint) {
				opts = append(opts, otlptracegrpc.WithEndpointURL(o.Endpoint))
			} else {
				opts = append(opts, otlptracegrpc.WithEndpoint(o.Endpoint))
			}
			if o.Insecure {
				opts = append(opts, otlptracegrpc.WithInsecure())
			}
			if len(o.Headers) > 0 {
				opts = append(opts, otlptracegrpc.WithHeaders(o.Headers))
			}
			if o.Timeout > 0 {
				opts = append(opts, otlptracegrpc.WithTimeout(o.Timeout))
			}
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	}
	if err != nil {
		return nil, "", fmt.Errorf("telemetry: span exporter (%s): %w", target, err)
	}
	return exp, target, nil
}

// newMetricExporter is newSpanExporter for metrics.
func newMetricExporter(ctx context.Context, o *OTLPConfig) (sdkmetric.Exporter, string, error) {
	var policyProto string
	if o != nil {
		policyProto = o.Protocol
	}
	proto, err := protocol(policyProto, signalMetrics)
	if err != nil {
		return nil, "", err
	}
	target := exporterTarget(proto, o)
	var exp sdkmetric.Exporter
	if proto == ProtocolHTTP {
		var opts []otlpmetrichttp.Option
		if o != nil {
			if isURL(o.Endpoint) {
				opts = append(opts, otlpmetrichttp.WithEndpointURL(o.Endpoint))
			} else {
				opts = append(opts, otlpmetrichttp.WithEndpoint(o.Endpoint))
			}
			if o.Insecure {
				opts = append(opts, otlpmetrichttp.WithInsecure())
			}
			if len(o.Headers) > 0 {
				opts = append(opts, otlpmetrichttp.WithHeaders(o.Headers))
			}
			if o.Timeout > 0 {
				opts = append(opts, otlpmetrichttp.WithTimeout(o.Timeout))
			}
		}
		exp, err = otlpmetrichttp.New(ctx, opts...)
	} else {
		var opts []otlpmetricgrpc.Option
		if o != nil {
			if isURL(o.Endpoint) {
				opts = append(opts, otlpmetricgrpc.WithEndpointURL(o.Endpoint))
			} else {
				opts = append(opts, otlpmetricgrpc.WithEndpoint(o.Endpoint))
			}
			if o.Insecure {
				opts = append(opts, otlpmetricgrpc.WithInsecure())
			}
			if len(o.Headers) > 0 {
				opts = append(opts, otlpmetricgrpc.WithHeaders(o.Headers))
			}
			if o.Timeout > 0 {
				opts = append(opts, otlpmetricgrpc.WithTimeout(o.Timeout))
			}
		}
		exp, err = otlpmetricgrpc.New(ctx, opts...)
	}
	if err != nil {
		return nil, "", fmt.Errorf("telemetry: metric exporter (%s): %w", target, err)
	}
	return exp, target, nil
}

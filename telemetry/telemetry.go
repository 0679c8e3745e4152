package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options is what the host node supplies besides the policy's [Config].
type Options struct {
	// Service, Version and Instance describe the node in the resource of
	// every span and metric (service.name, service.version,
	// service.instance.id); Mesh is the mesh's name (service.namespace).
	// Service is required.
	Service, Version, Instance, Mesh string

	// TracerProvider, if not nil, creates the spans instead of a provider
	// built from Config.Tracing, and tracing is on. Telemetry never shuts
	// it down.
	TracerProvider trace.TracerProvider
	// MeterProvider, if not nil, receives the metrics instead of a
	// provider of Telemetry's own; /metrics is then not served (register
	// a Prometheus exporter with it to get one) and Config.Metrics does
	// not apply. Telemetry never shuts it down.
	MeterProvider metric.MeterProvider
	// Propagator, if not nil, carries trace context between services. If
	// nil, $OTEL_PROPAGATORS, else W3C trace context and baggage.
	Propagator propagation.TextMapPropagator

	// Scrape reports that the host serves MetricsHandler (the admin
	// endpoint's /metrics). Without it, without an OTLP push and without
	// the application's MeterProvider, metrics would reach no one, and
	// none are recorded.
	Scrape bool

	// Logger receives the access logs. If nil, they are discarded.
	// (Exporters report their errors to OpenTelemetry's error handler,
	// which the application owns.)
	Logger *slog.Logger
	// NodeStats, if not nil, is called at each metric collection for the
	// node-level metrics (membership, gossip, policy, identity, limits,
	// endpoints). It must be safe to call from any goroutine.
	NodeStats func() NodeStats
}

// Telemetry records a node's traces, metrics and access logs. It
// implements [observe.CallObserver] and [observe.InboundObserver].
// All methods are safe for concurrent use.
type Telemetry struct {
	service string
	logger  *slog.Logger

	tracing bool // spans are created and trace context propagated
	metrics bool // metrics reach a reader
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	w3c     w3cPropagation // the propagation t set up, when the application gave none
	// fastTrace: t set up W3C trace context itself, so that it writes and
	// reads it without the propagator where it can.
	fastTrace bool
	sampler   *liveSampler // nil with the application's TracerProvider
	names     *spanNames

	inst       *instruments
	clientAttr *attrSet // source, destination, route, response_class, protocol
	activeAttr *attrSet // source, destination, route, protocol
	routeSet   *attrSet // destination, route
	destAttr   *attrSet // destination
	transAttr  *attrSet // destination, state
	serverAttr *attrSet // source, destination, response_class, protocol

	accessLog atomic.Bool

	ownTP    *sdktrace.TracerProvider // built here: shut down by Shutdown
	ownMP    *sdkmetric.MeterProvider
	registry *prometheus.Registry // nil without our own MeterProvider
	callback metric.Registration

	status Status

	stopOnce sync.Once
	stopErr  error
}

// Status says how a Telemetry was set up, for the admin endpoint.
type Status struct {
	// Tracing reports whether spans are created; TraceExporter where they
	// go ("otlp grpc 127.0.0.1:4317", "application TracerProvider").
	Tracing       bool   `json:"tracing"`
	TraceExporter string `json:"traceExporter,omitempty"`
	// Sampler describes the sampler of a TracerProvider built here.
	Sampler string `json:"sampler,omitempty"`
	// MetricsExporter is where metrics are pushed, if anywhere.
	MetricsExporter string `json:"metricsExporter,omitempty"`
	// Prometheus reports whether /metrics is served.
	Prometheus bool `json:"prometheus"`
	AccessLog  bool `json:"accessLog"`
}

// New builds the node's telemetry from cfg, the environment and opts. It
// does not connect to any collector: exporters connect when they first
// export, and report failures through opts.Logger. Call Shutdown when the
// node stops. New fails on a Config that does not validate and on OTEL_*
// variables it cannot honour.
func New(ctx context.Context, cfg Config, opts Options) (*Telemetry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if opts.Service == "" {
		return nil, errors.New("telemetry: Options.Service is required")
	}
	t := &Telemetry{service: opts.Service, logger: opts.Logger, prop: opts.Propagator, names: newSpanNames()}
	if t.logger == nil {
		t.logger = slog.New(slog.DiscardHandler)
	}
	if t.prop == nil {
		p, err := envPropagation()
		if err != nil {
			return nil, err
		}
		t.w3c, t.fastTrace, t.prop = p, p.traceContext, p.propagator()
	}
	t.accessLog.Store(cfg.AccessLog)
	t.status.AccessLog = cfg.AccessLog

	res, err := t.resource(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := t.setUpTracing(ctx, cfg.Tracing, opts, res); err != nil {
		return nil, err
	}
	if err := t.setUpMetrics(ctx, cfg.Metrics, opts, res); err != nil {
		t.Shutdown(ctx)
		return nil, err
	}
	return t, nil
}

// resource describes the node to the backends. Weft's service name wins
// over $OTEL_SERVICE_NAME, so that traces and the mesh agree on names;
// $OTEL_RESOURCE_ATTRIBUTES adds to it.
func (t *Telemetry) resource(ctx context.Context, opts Options) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", opts.Service)}
	attrs = appendSet(attrs, "service.version", opts.Version)
	attrs = appendSet(attrs, "service.instance.id", opts.Instance)
	attrs = appendSet(attrs, "service.namespace", opts.Mesh)
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithHost(), resource.WithFromEnv(), resource.WithAttributes(attrs...))
	if err != nil && res == nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	if err != nil {
		// A partial resource (an unreadable host name, a malformed
		// $OTEL_RESOURCE_ATTRIBUTES) is still worth exporting with.
		t.logger.Warn("telemetry: resource incomplete", "err", err)
	}
	return res, nil
}

func (t *Telemetry) setUpTracing(ctx context.Context, cfg TracingConfig, opts Options, res *resource.Resource) error {
	if opts.TracerProvider != nil {
		t.tracing = true
		t.tracer = opts.TracerProvider.Tracer(instrumentationName)
		t.status.Tracing, t.status.TraceExporter = true, "application TracerProvider"
		return nil
	}
	on := cfg.OTLP != nil && !sdkDisabled()
	if cfg.OTLP == nil {
		var err error
		if on, err = envExporter(signalTraces); err != nil {
			return err
		}
	}
	if !on {
		return nil
	}
	sampler, err := samplerFor(cfg.SampleRatio)
	if err != nil {
		return err
	}
	exp, target, err := newSpanExporter(ctx, cfg.OTLP)
	if err != nil {
		return err
	}
	t.sampler = newLiveSampler(sampler)
	t.ownTP = sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(t.sampler),
	)
	t.tracing = true
	t.tracer = t.ownTP.Tracer(instrumentationName)
	t.status.Tracing, t.status.TraceExporter, t.status.Sampler = true, target, sampler.Description()
	return nil
}

func (t *Telemetry) setUpMetrics(ctx context.Context, cfg MetricsConfig, opts Options, res *resource.Resource) error {
	mp := opts.MeterProvider
	t.metrics = true
	if mp == nil {
		push := cfg.OTLP != nil && !sdkDisabled()
		if cfg.OTLP == nil {
			var err error
			if push, err = envExporter(signalMetrics); err != nil {
				return err
			}
		}
		mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
		if opts.Scrape {
			t.registry = prometheus.NewRegistry()
			t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			prom, err := otelprom.New(otelprom.WithRegisterer(t.registry), otelprom.WithoutScopeInfo())
			if err != nil {
				return fmt.Errorf("telemetry: prometheus exporter: %w", err)
			}
			mopts = append(mopts, sdkmetric.WithReader(prom))
			t.status.Prometheus = true
		}
		if push {
			exp, target, err := newMetricExporter(ctx, cfg.OTLP)
			if err != nil {
				return err
			}
			mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(metricInterval(cfg.Interval)))))
			t.status.MetricsExporter = target
		}
		if opts.Scrape || push {
			t.ownMP = sdkmetric.NewMeterProvider(mopts...)
			mp = t.ownMP
		} else {
			mp, t.metrics = noop.NewMeterProvider(), false
		}
	}
	meter := mp.Meter(instrumentationName)
	inst, err := newInstruments(meter)
	if err != nil {
		return fmt.Errorf("telemetry: instruments: %w", err)
	}
	t.inst = inst
	t.clientAttr = newAttrSet(keySource, keyDestination, keyRoute, keyClass, keyProtocol)
	t.activeAttr = newAttrSet(keySource, keyDestination, keyRoute, keyProtocol)
	t.routeSet = newAttrSet(keyDestination, keyRoute)
	t.destAttr = newAttrSet(keyDestination)
	t.transAttr = newAttrSet(keyDestination, keyState)
	t.serverAttr = newAttrSet(keySource, keyDestination, keyClass, keyProtocol)
	if opts.NodeStats != nil {
		if t.callback, err = registerNodeMetrics(meter, opts.Service, opts.NodeStats); err != nil {
			return fmt.Errorf("telemetry: node metrics: %w", err)
		}
	}
	return nil
}

// Update applies the parts of a reloaded policy's telemetry section that
// change live: the sample ratio (of a TracerProvider built here) and the
// access log. The caller checks with the policy reader that nothing else
// changed; exporters are kept as they are.
func (t *Telemetry) Update(cfg Config) error {
	if t.sampler != nil {
		s, err := samplerFor(cfg.Tracing.SampleRatio)
		if err != nil {
			return err
		}
		t.sampler.set(s)
	}
	t.accessLog.Store(cfg.AccessLog)
	return nil
}

// Status reports how t was set up.
func (t *Telemetry) Status() Status {
	s := t.status
	s.AccessLog = t.accessLog.Load()
	if t.sampler != nil {
		s.Sampler = t.sampler.Description()
	}
	return s
}

// Tracing reports whether t creates spans.
func (t *Telemetry) Tracing() bool { return t.tracing }

// Observes reports whether t has anything to do with requests: spans to
// create, metrics that reach a reader, or access logs to write. A host may
// leave a Telemetry that does not observe out of the request path; it
// changes when [Telemetry.Update] turns the access log on or off.
func (t *Telemetry) Observes() bool { return t.tracing || t.metrics || t.accessLog.Load() }

// MetricsHandler serves the metrics in the Prometheus text format, or
// answers 404 when the application's MeterProvider receives them.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t.registry == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "weft: metrics go to the MeterProvider given in mesh.Config; register a Prometheus exporter with it to serve them", http.StatusNotFound)
		})
	}
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Shutdown flushes and stops the providers t built, within ctx; the
// application's providers are left alone. Spans and metrics recorded
// afterwards are dropped. Later calls return the first one's result.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.stopOnce.Do(func() { t.stopErr = t.shutdown(ctx) })
	return t.stopErr
}

func (t *Telemetry) shutdown(ctx context.Context) error {
	var errs []error
	if t.callback != nil {
		errs = append(errs, t.callback.Unregister())
	}
	if t.ownTP != nil {
		errs = append(errs, t.ownTP.Shutdown(ctx))
	}
	if t.ownMP != nil {
		errs = append(errs, t.ownMP.Shutdown(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}

package telemetry

import (
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// liveSampler is the sampler of the TracerProvider a Telemetry builds. It
// delegates to a sampler swapped atomically, so that a policy reload
// changes the sample ratio without rebuilding the provider.
type liveSampler struct {
	current atomic.Pointer[samplerBox]
}

type samplerBox struct{ sdktrace.Sampler }

func newLiveSampler(s sdktrace.Sampler) *liveSampler {
	l := &liveSampler{}
	l.set(s)
	return l
}

func (l *liveSampler) set(s sdktrace.Sampler) { l.current.Store(&samplerBox{s}) }

// ShouldSample implements sdktrace.Sampler.
func (l *liveSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	return l.current.Load().ShouldSample(p)
}

// Description implements sdktrace.Sampler.
func (l *liveSampler) Description() string { return l.current.Load().Description() }

package zoneaware

import (
	"math"
	"time"

	"github.com/weftmesh/weft/resilience"
)

// New returns a [resilience.Builder] whose pickers send requests to the
// endpoints of localZone through a picker built by inner, while at least
// minHealthy (a fraction between 0 and 1) of them are usable, and to all
// endpoints through another picker built by inner otherwise.
//
// A minHealthy of zero, below zero or NaN means
// [resilience.DefaultMinHealthy]; above 1 means 1 (every local endpoint
// must be usable). An empty localZone turns the preference off: the
// builder is then inner itself. The builder is safe for concurrent use if
// inner is.
func New(inner resilience.Builder, localZone string, minHealthy float64) resilience.Builder {
	if localZone == "" {
		return inner
	}
	if !(minHealthy > 0) {
		minHealthy = resilience.DefaultMinHealthy
	}
	return builder{inner: inner, zone: localZone, minHealthy: min(minHealthy, 1)}
}

type builder struct {
	inner      resilience.Builder
	zone       string
	minHealthy float64
}

// Build returns a picker over endpoints. When the set has no endpoint in
// the local zone, or only such endpoints, it is inner's picker over the
// whole set. Otherwise Build builds two pickers with inner, one over the
// local endpoints (a new slice) and one over endpoints.
//
// The returned picker's Pick is safe for concurrent use by any number of
// goroutines; it does not block and allocates only if inner's pickers do.
// It checks the health of the local endpoints on every pick, in O(local).
func (b builder) Build(endpoints []*resilience.Endpoint) resilience.Picker {
	var local []*resilience.Endpoint
	for _, e := range endpoints {
		if e.Zone == b.zone {
			local = append(local, e)
		}
	}
	if len(local) == 0 || len(local) == len(endpoints) {
		return b.inner.Build(endpoints)
	}
	return &picker{
		local:       local,
		need:        max(int(math.Ceil(b.minHealthy*float64(len(local)))), 1),
		localPicker: b.inner.Build(local),
		allPicker:   b.inner.Build(endpoints),
	}
}

type picker struct {
	local       []*resilience.Endpoint
	need        int // usable local endpoints needed to stay local
	localPicker resilience.Picker
	allPicker   resilience.Picker
}

// Pick delegates to the local picker while enough local endpoints are
// usable, and to the picker over every endpoint otherwise.
func (p *picker) Pick(info resilience.PickInfo) (*resilience.Endpoint, error) {
	if p.localHealthy(info.Avoid) {
		return p.localPicker.Pick(info)
	}
	return p.allPicker.Pick(info)
}

// localHealthy reports whether at least p.need local endpoints are
// available and not avoid. It reads the clock only for endpoints with a
// down mark, once, and stops counting as soon as the answer is known.
func (p *picker) localHealthy(avoid *resilience.Endpoint) bool {
	var now int64
	healthy, left := 0, len(p.local)
	for _, e := range p.local {
		left--
		up := e.Available(0)
		if !up {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			up = e.Available(now)
		}
		if up && e != avoid {
			if healthy++; healthy >= p.need {
				return true
			}
		}
		if healthy+left < p.need {
			return false
		}
	}
	return false
}

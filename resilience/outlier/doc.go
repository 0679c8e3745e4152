// Package outlier finds the endpoints of a destination service that keep
// failing and takes them out of load balancing for a while, as Envoy's
// outlier detection does.
//
// A [Detector] watches the outcome of every request ([Detector.Observe]).
// An endpoint whose last [Config] ConsecutiveErrors requests all failed
// (a 5xx, a gateway error or a failed connection) is ejected: pickers skip
// it for EjectFor, then it returns to rotation on its own. Each ejection of
// an endpoint that has not stayed healthy in between lasts one EjectFor
// longer than the previous one, up to MaxEjectFor. At most
// MaxEjectedPercent of the endpoints are ejected at once and at least one
// always stays, so a service-wide failure is never turned into an empty
// endpoint set.
//
// Where package breaker stops sending to an endpoint and tests it with trial
// requests, ejection is a plain timeout; the two combine, each marking the
// endpoint through the same [Marker] interface that *resilience.Endpoint
// implements, and the later mark wins.
//
// A Detector starts no goroutines: an ejection simply ends at its time on
// the clock given to [New], which [Detector.Ejected] and the endpoint's own
// mark read when asked.
package outlier

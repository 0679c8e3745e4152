package discovery

import (
	"slices"
	"strings"
)

// View is an immutable snapshot of the catalog: the entries of the live
// members, grouped by service. A member publishes a new View whenever an
// entry appears, changes or disappears; readers keep the one they hold
// for as long as they like. All methods are safe for concurrent use and
// never block.
type View struct {
	version  uint64
	services []string
	byName   map[string][]*Instance
}

// newView groups instances by service, each group sorted by node name.
// It takes ownership of the instances, which must not change afterwards.
func newView(version uint64, instances []*Instance) *View {
	v := &View{version: version, byName: make(map[string][]*Instance)}
	for _, in := range instances {
		v.byName[in.Service] = append(v.byName[in.Service], in)
	}
	for name, list := range v.byName {
		slices.SortFunc(list, func(a, b *Instance) int { return strings.Compare(a.Node, b.Node) })
		v.byName[name] = slices.Clip(list)
		v.services = append(v.services, name)
	}
	slices.Sort(v.services)
	v.services = slices.Clip(v.services)
	return v
}

// Version numbers the views of one member: a later view has a higher
// version.
func (v *View) Version() uint64 { return v.version }

// Services returns the names of the services with at least one entry,
// sorted. The slice is shared: do not modify it.
func (v *View) Services() []string { return v.services }

// Instances returns the entries of the live members hosting service,
// sorted by node name, whatever their State: callers pick the states they
// route to. The slice and the instances are shared by every reader of the
// view: never modify them. It returns nil for an unknown service.
func (v *View) Instances(service string) []*Instance { return v.byName[service] }

// Has reports whether any live member hosts service.
func (v *View) Has(service string) bool { return len(v.byName[service]) > 0 }

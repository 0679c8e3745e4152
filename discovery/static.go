package discovery

import "slices"

// NewView returns a view of the given instances, as if they were the
// entries of live members. It serves code that consumes views without
// running gossip: tests of routing, tools replaying a catalog. The view
// keeps copies, so the caller may reuse the instances.
func NewView(version uint64, instances ...*Instance) *View {
	copies := make([]*Instance, 0, len(instances))
	for _, in := range slices.Clip(instances) {
		copies = append(copies, in.Clone())
	}
	return newView(version, copies)
}

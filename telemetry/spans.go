package telemetry

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
)

// spanNames keeps the names of sampled spans ("GET payments", "GET
// payments attempt"), so that naming a span allocates nothing once its
// method and service were seen. Readers take no lock: the map is
// replaced, never changed, when a name is added.
type spanNames struct {
	mu sync.Mutex
	m  atomic.Pointer[map[spanName]string]
}

type spanName struct{ method, service, suffix string }

// maxSpanNames bounds the names kept: servers name spans after the
// methods callers send, which they choose freely. Beyond it, names are
// built per span.
const maxSpanNames = 512

func newSpanNames() *spanNames {
	n := &spanNames{}
	n.m.Store(&map[spanName]string{})
	return n
}

// get returns method + " " + service + suffix.
func (n *spanNames) get(method, service, suffix string) string {
	k := spanName{method, service, suffix}
	if s, ok := (*n.m.Load())[k]; ok {
		return s
	}
	s := method + " " + service + suffix
	n.mu.Lock()
	defer n.mu.Unlock()
	old := *n.m.Load()
	if len(old) >= maxSpanNames {
		return s
	}
	m := make(map[spanName]string, len(old)+1)
	for kk, v := range old {
		m[kk] = v
	}
	m[k] = s
	n.m.Store(&m)
	return s
}

// attrBuf is a scratch slice for the attributes a span gets when it ends:
// the span copies them, and the slice goes back to the pool, so that
// passing them allocates nothing.
type attrBuf struct{ kv []attribute.KeyValue }

var attrPool = sync.Pool{New: func() any { return &attrBuf{kv: make([]attribute.KeyValue, 0, 16)} }}

func getAttrs() *attrBuf { return attrPool.Get().(*attrBuf) }

// put returns the buffer, with kv (its grown slice) emptied, to the pool.
func (b *attrBuf) put(kv []attribute.KeyValue) {
	clear(kv)
	b.kv = kv[:0]
	attrPool.Put(b)
}

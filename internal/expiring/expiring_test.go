package expiring_test

import (
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/expiring"
)

func TestMap(t *testing.T) {
	now := time.Unix(1000, 0)
	m := expiring.New[string, int](8)
	m.Put("a", 1, now.Add(time.Second), now)
	if v, ok := m.Get("a", now); !ok || v != 1 {
		t.Errorf("Get = %v, %v", v, ok)
	}
	if _, ok := m.Get("a", now.Add(time.Second)); ok {
		t.Error("an entry outlived its expiry")
	}
	if m.Len() != 0 {
		t.Error("an expired entry was not dropped")
	}
	for i := range 8 {
		m.Put(string(rune('a'+i)), i, now.Add(time.Duration(i)*time.Second), now)
	}
	// Full: the next Put drops the expired ones first (a, b at now+1s).
	later := now.Add(1500 * time.Millisecond)
	m.Put("new", 9, later.Add(time.Hour), later)
	if _, ok := m.Get("new", later); !ok || m.Len() > 8 {
		t.Errorf("after a Put into a full map: len %d", m.Len())
	}
	// Full of live entries: an eighth goes.
	for i := range 20 {
		m.Put(string(rune('A'+i)), i, now.Add(time.Hour), now)
	}
	if m.Len() > 8 {
		t.Errorf("len %d, want at most 8", m.Len())
	}
	m.Delete("new")
	if _, ok := m.Get("new", now); ok {
		t.Error("Delete kept the entry")
	}
}

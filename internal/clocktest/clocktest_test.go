package clocktest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/clocktest"
)

func TestAfter(t *testing.T) {
	start := time.Unix(1000, 0)
	c := clocktest.New(start)
	select {
	case got := <-c.After(0):
		if !got.Equal(start) {
			t.Errorf("After(0) sent %v, want %v", got, start)
		}
	default:
		t.Error("After(0) did not fire at once")
	}
	later, sooner := c.After(2*time.Second), c.After(time.Second)
	if got := c.Waiting(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("Waiting() = %v, want [1s 2s]", got)
	}
	c.Advance(time.Second - time.Nanosecond)
	if len(sooner) != 0 || len(later) != 0 {
		t.Fatal("a channel fired before its time")
	}
	c.Advance(time.Nanosecond)
	if got := <-sooner; !got.Equal(start.Add(time.Second)) {
		t.Errorf("sooner sent %v", got)
	}
	if len(later) != 0 {
		t.Fatal("the later channel fired with the sooner one")
	}
	if got := c.Waiting(); !slices.Equal(got, []time.Duration{time.Second}) {
		t.Errorf("Waiting() = %v, want [1s]", got)
	}
	c.Set(start.Add(time.Hour))
	if got := <-later; !got.Equal(start.Add(time.Hour)) {
		t.Errorf("later sent %v", got)
	}
	if got := c.Waiting(); len(got) != 0 {
		t.Errorf("Waiting() = %v after every channel fired", got)
	}
}

package discovery

import "testing"

func TestStatusTextRoundTrip(t *testing.T) {
	for _, s := range []Status{StatusAlive, StatusSuspect, StatusDead, StatusLeft} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Status
		if err := got.UnmarshalText(b); err != nil || got != s {
			t.Errorf("%s: round trip gave %v, %v", s, got, err)
		}
	}
	var s Status
	if err := s.UnmarshalText([]byte("zombie")); err == nil {
		t.Error("an unknown status decoded")
	}
}

package policy

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"", "abc", 3},
		{"retires", "retries", 1},
		{"servces", "services", 1},
		{"timeuot", "timeout", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"loadBalancer", "timeout", "retries"}
	tests := []struct{ key, want string }{
		{"loadbalancer", "loadBalancer"},
		{"LOADBALANCER", "loadBalancer"},
		{"timout", "timeout"},
		{"retry", ""},
		{"color", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := closest(tt.key, known); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

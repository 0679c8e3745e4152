package devca_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/security/devca"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  devca.Config
		want []string // the problems, in order
	}{
		{"directory only", devca.Config{CA: "/etc/weft/ca"}, nil},
		{"shortest ttl", devca.Config{CA: "ca", TTL: time.Second}, nil},
		{"longest ttl", devca.Config{CA: "ca", TTL: 24 * time.Hour}, nil},
		{"zero", devca.Config{}, []string{`devca: dev.ca: required: the directory made by "weft ca init DIR --trust-domain T"`}},
		{"ttl too short", devca.Config{CA: "ca", TTL: 999 * time.Millisecond}, []string{"devca: dev.ttl: must be between 1s and 24h0m0s, got 999ms"}},
		{"ttl too long", devca.Config{CA: "ca", TTL: 25 * time.Hour}, []string{"devca: dev.ttl: must be between 1s and 24h0m0s, got 25h0m0s"}},
		{"negative ttl", devca.Config{CA: "ca", TTL: -time.Second}, []string{"devca: dev.ttl: must be between 1s and 24h0m0s, got -1s"}},
		{"both", devca.Config{TTL: 48 * time.Hour}, []string{
			`devca: dev.ca: required: the directory made by "weft ca init DIR --trust-domain T"`,
			"devca: dev.ttl: must be between 1s and 24h0m0s, got 48h0m0s",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var list fielderr.List
			if !errors.As(err, &list) {
				t.Fatalf("Validate() = %#v, want a fielderr.List", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}

package admin_test

import (
	"testing"

	"github.com/weftmesh/weft/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

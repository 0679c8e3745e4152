package chaos

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/weftmesh/weft/internal/hosttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(hosttest.Cleanup(m)) }

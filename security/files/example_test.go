package files_test

import (
	"log/slog"
	"time"

	"github.com/weftmesh/weft/security/files"
)

// A node whose certificate is renewed by cert-manager into a mounted
// secret. The Source picks up each renewal within Interval.
func Example() {
	src, err := files.New(files.Config{
		Cert:     "/var/run/secrets/weft/tls.crt",
		Key:      "/var/run/secrets/weft/tls.key",
		Bundle:   "/var/run/secrets/weft/ca.crt",
		Interval: 5 * time.Second,
	}, slog.Default())
	if err != nil {
		slog.Error("identity", "error", err)
		return
	}
	defer src.Close()

	svid, _ := src.GetX509SVID()
	slog.Info("serving", "id", svid.ID, "expires", svid.Certificates[0].NotAfter)
}

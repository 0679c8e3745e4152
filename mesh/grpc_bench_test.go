package mesh_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weftmesh/weft/examples/grpc/shoppb"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// BenchmarkGRPCUnary compares one unary call over loopback through plain
// grpc-go with the same call through a Weft channel and server, in
// plaintext and with mutual TLS, on established connections.
func BenchmarkGRPCUnary(b *testing.B) {
	b.Run("grpc-go", func(b *testing.B) {
		runGRPC(b, rawGRPC(b, nil, nil))
	})
	b.Run("weft", func(b *testing.B) {
		m := meshtest.New(b)
		runGRPC(b, weftGRPC(b, m))
	})
	b.Run("grpc-go-mtls", func(b *testing.B) {
		serverTLS, clientTLS := rawMTLS(b)
		runGRPC(b, rawGRPC(b, serverTLS, clientTLS))
	})
	b.Run("weft-mtls", func(b *testing.B) {
		_, caDir := meshtest.DevCA(b)
		m := meshtest.New(b)
		m.PolicyFile = meshtest.SecurePolicy(b, caDir, "")
		runGRPC(b, weftGRPC(b, m))
	})
}

func weftGRPC(b *testing.B, m *meshtest.Mesh) shoppb.PaymentsClient {
	n := m.Start(mesh.Config{Service: "payments"})
	s := n.NewGRPCServer()
	shoppb.RegisterPaymentsServer(s, quoter{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.ServeGRPC(s, "127.0.0.1:0")
	}()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Shutdown(ctx)
		<-done
	})
	client := m.Start(mesh.Config{Service: "checkout"})
	waitGRPCEndpoints(b, client, "payments", 1)
	return dial(b, client, "payments")
}

// quoter answers Quote and nothing else, without the test double's
// bookkeeping, so that both sides measure the same handler.
type quoter struct {
	shoppb.UnimplementedPaymentsServer
}

func (quoter) Quote(context.Context, *shoppb.QuoteRequest) (*shoppb.QuoteReply, error) {
	return &shoppb.QuoteReply{AmountCents: 100}, nil
}

func rawGRPC(b *testing.B, serverTLS, clientTLS *tls.Config) shoppb.PaymentsClient {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var sopts []grpc.ServerOption
	copts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if serverTLS != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(serverTLS)))
		copts = []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(clientTLS))}
	}
	s := grpc.NewServer(sopts...)
	shoppb.RegisterPaymentsServer(s, quoter{})
	go s.Serve(l)
	b.Cleanup(s.Stop)
	cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), copts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return shoppb.NewPaymentsClient(cc)
}

// rawMTLS returns plain mutual TLS configurations with certificates from
// a development CA: what a grpc-go service secured by hand would use.
func rawMTLS(b testing.TB) (server, client *tls.Config) {
	ca, _ := meshtest.DevCA(b)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	cert := func(name string) tls.Certificate {
		svid, err := ca.Issue(spiffeid.RequireFromString("spiffe://"+meshtest.TrustDomain+"/svc/"+name), time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		return tlsCertificate(svid)
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert("payments")}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS13}
	client = &tls.Config{Certificates: []tls.Certificate{cert("checkout")}, RootCAs: pool, MinVersion: tls.VersionTLS13,
		// SVIDs name no host; verify the chain only, as SPIFFE-unaware
		// code would.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = leaf.Verify(x509.VerifyOptions{Roots: pool})
			return err
		}}
	return server, client
}

func tlsCertificate(svid *x509svid.SVID) tls.Certificate {
	c := tls.Certificate{PrivateKey: svid.PrivateKey, Leaf: svid.Certificates[0]}
	for _, x := range svid.Certificates {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

func runGRPC(b *testing.B, pc shoppb.PaymentsClient) {
	ctx := context.Background()
	req := &shoppb.QuoteRequest{OrderId: "o1", Items: 2}
	if _, err := pc.Quote(ctx, req); err != nil { // connect first
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pc.Quote(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := pc.Quote(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// Command weftnode runs one Weft node for internal/hosttest: a real
// mesh.Node with gossip and an HTTP service on a lab host's address,
// driven over stdin and stdout with the JSON lines of package
// internal/hosttest/nodeapi. Its HTTP handler answers with the host and
// node names and records every request ID it receives, so that a test can
// tell which backend answered and whether any request was served twice.
//
// It is test support, built and started by hosttest; it is not a tool for
// people.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
	"github.com/weftmesh/weft/mesh"
)

// startTimeout bounds joining the mesh.
const startTimeout = 30 * time.Second

func main() {
	var (
		service   = flag.String("service", "echo", "the service this node hosts")
		host      = flag.String("host", "", "the lab host's name, put in every answer (required)")
		gossip    = flag.String("gossip", "", "gossip IP:port (required)")
		join      = flag.String("join", "", "seeds, comma-separated host:port")
		httpAddr  = flag.String("http", "", "the HTTP service's IP:port (required)")
		policy    = flag.String("policy", "", "the policy file")
		admin     = flag.String("admin", "", "the admin endpoint's IP:port")
		servedLog = flag.String("served-log", "", "the file every received request ID is appended to, a line each (required)")
		work      = flag.Duration("work", 0, "how long the handler takes per request")
		drain     = flag.Duration("drain", 0, "the node's DrainDelay (0: the default)")
		loss      = flag.Float64("loss", 0, "the fraction of gossip packets lost, from the start (see the faults command)")
		delay     = flag.Duration("delay", 0, "the delay added to gossip packets and dials, from the start")
		debug     = flag.Bool("debug", false, "log at debug level")
	)
	flag.Parse()
	out := &writer{enc: json.NewEncoder(os.Stdout)}
	if *host == "" || *gossip == "" || *httpAddr == "" || *servedLog == "" {
		out.fail(errors.New("weftnode: -host, -gossip, -http and -served-log are required"))
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	var seeds []string
	for s := range strings.SplitSeq(*join, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	b, err := newBackend(*host, *servedLog, *work)
	if err != nil {
		out.fail(err)
	}
	faults := new(discovery.Faults)
	if err := faults.Set(*loss, *delay); err != nil {
		out.fail(err)
	}
	tries := newTries()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(tries))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	node, err := mesh.Start(ctx, mesh.Config{
		Service:      *service,
		GossipAddr:   *gossip,
		Join:         seeds,
		PolicyFile:   *policy,
		AdminAddr:    *admin,
		DrainDelay:   *drain,
		Logger:       logger,
		GossipFaults: faults,
		// Every call's attempts are recorded, to tell which backends a
		// request tried.
		TracerProvider: tp,
	})
	cancel()
	if err != nil {
		out.fail(fmt.Errorf("weftnode: start: %w", err))
	}
	b.node = node.Name()
	l, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		node.Close()
		out.fail(fmt.Errorf("weftnode: listen: %w", err))
	}
	served := make(chan error, 1)
	go func() {
		served <- node.Serve(&http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}, l)
	}()
	out.send(nodeapi.Message{Event: nodeapi.EventStarted, Started: &nodeapi.Started{
		Node: node.Name(), Host: *host, Gossip: node.GossipAddr(), HTTP: l.Addr().String(), Admin: node.AdminAddr(),
	}})

	c := &controller{node: node, faults: faults, host: *host, out: out, tracer: tp.Tracer("weftnode"), tries: tries}
	go func() {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			out.send(nodeapi.Message{Event: nodeapi.EventError, Error: "weftnode: serve: " + err.Error()})
		}
	}()
	c.run(os.Stdin)
}

// writer writes messages to stdout, one JSON line each.
type writer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *writer) send(m nodeapi.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.enc.Encode(m) // a harness that stopped reading is gone: nothing to tell
}

// fail reports err as an error event and exits.
func (w *writer) fail(err error) {
	w.send(nodeapi.Message{Event: nodeapi.EventError, Error: err.Error()})
	os.Exit(1)
}

// controller runs the commands read from stdin.
type controller struct {
	node   *mesh.Node
	faults *discovery.Faults
	host   string
	out    *writer
	tracer trace.Tracer
	tries  *tries

	mu    sync.Mutex // guards load and loads
	load  *load
	loads int
}

// run reads requests until stdin ends or a shutdown finishes. Each request
// runs in its own goroutine, so that a slow one (stop-load) does not hold
// up the others. When stdin ends without a shutdown, the harness is gone:
// the node stops at once.
func (c *controller) run(stdin *os.File) {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var req nodeapi.Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			c.out.send(nodeapi.Message{Event: nodeapi.EventError, Error: fmt.Sprintf("weftnode: bad request %q: %v", sc.Text(), err)})
			continue
		}
		if req.Op == nodeapi.OpShutdown {
			c.shutdown(req.Seq)
			return
		}
		go func() {
			m := c.do(req)
			m.Seq = req.Seq
			c.out.send(m)
		}()
	}
	c.node.Close()
	os.Exit(0)
}

func (c *controller) do(req nodeapi.Request) nodeapi.Message {
	switch req.Op {
	case nodeapi.OpMembers:
		return nodeapi.Message{Members: c.members()}
	case nodeapi.OpLoad:
		return c.startLoad(req.Load)
	case nodeapi.OpOutcomes:
		c.mu.Lock()
		l := c.load
		c.mu.Unlock()
		if l == nil {
			return nodeapi.Message{Error: "weftnode: outcomes: no load was started"}
		}
		return nodeapi.Message{Outcomes: l.drain()}
	case nodeapi.OpStopLoad:
		c.mu.Lock()
		l := c.load
		c.load = nil
		c.mu.Unlock()
		if l == nil {
			return nodeapi.Message{Error: "weftnode: stop-load: no load is running"}
		}
		return nodeapi.Message{Outcomes: l.stop()}
	case nodeapi.OpFaults:
		if err := c.faults.Set(req.Loss, req.Delay); err != nil {
			return nodeapi.Message{Error: err.Error()}
		}
		return nodeapi.Message{}
	case nodeapi.OpGet:
		return nodeapi.Message{Get: get(req.URL, req.Duration)}
	case nodeapi.OpBusy:
		if req.Duration <= 0 {
			return nodeapi.Message{Error: "weftnode: busy: want a positive duration"}
		}
		cpu, err := busy(req.Duration)
		if err != nil {
			return nodeapi.Message{Error: err.Error()}
		}
		return nodeapi.Message{CPU: cpu}
	}
	return nodeapi.Message{Error: fmt.Sprintf("weftnode: unknown op %q", req.Op)}
}

func (c *controller) members() *nodeapi.Members {
	st := c.node.Status()
	m := &nodeapi.Members{Instances: make(map[string][]nodeapi.Instance), Endpoints: st.Endpoints}
	for _, mem := range st.Members {
		m.Members = append(m.Members, nodeapi.Member{Name: mem.Name, Addr: mem.Addr, Status: mem.Status.String()})
	}
	for svc, ins := range st.Catalog {
		for _, in := range ins {
			i := nodeapi.Instance{Node: in.Node, State: in.State}
			for _, e := range in.Endpoints {
				if addr, ok := strings.CutPrefix(e, "http://"); ok {
					i.HTTP = addr
				}
			}
			m.Instances[svc] = append(m.Instances[svc], i)
		}
	}
	return m
}

func (c *controller) startLoad(spec *nodeapi.LoadSpec) nodeapi.Message {
	if spec == nil || spec.Service == "" || !(spec.Rate > 0) || (spec.Method != http.MethodGet && spec.Method != http.MethodPost) {
		return nodeapi.Message{Error: "weftnode: load: want a service, a positive rate and GET or POST"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.load != nil {
		return nodeapi.Message{Error: "weftnode: load: a load is already running; stop it first"}
	}
	c.loads++
	c.load = startLoad(*spec, c.node.NewClient(spec.Service), fmt.Sprintf("%s-%d", c.host, c.loads), c.tracer, c.tries)
	return nodeapi.Message{}
}

// shutdown stops any load, shuts the node down gracefully, replies and
// exits.
func (c *controller) shutdown(seq int) {
	c.mu.Lock()
	if c.load != nil {
		c.load.stop()
		c.load = nil
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	err := c.node.Shutdown(ctx)
	cancel()
	m := nodeapi.Message{Seq: seq}
	if err != nil {
		m.Error = "weftnode: shutdown: " + err.Error()
	}
	c.out.send(m)
	os.Exit(0)
}

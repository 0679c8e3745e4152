package hosttest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
	"github.com/weftmesh/weft/internal/proctest"
)

const (
	// startTimeout bounds a node's start: the program's first build
	// excluded, its join of the mesh included.
	startTimeout = 45 * time.Second
	// callTimeout bounds a command's reply. stop-load waits for the
	// requests in flight, each bounded by its own timeout.
	callTimeout = 30 * time.Second
)

// NodeConfig says how to run a node on a host. The node gossips on
// the host's GossipPort and serves HTTP on its HTTPPort.
type NodeConfig struct {
	// Service is the service the node hosts. If empty, "echo".
	Service string
	// Join lists seeds, host:port.
	Join []string
	// PolicyFile is the policy's path, if any.
	PolicyFile string
	// AdminAddr is the admin endpoint's IP:port, if any.
	AdminAddr string
	// Work is how long the node's handler takes per request.
	Work time.Duration
	// DrainDelay is the node's Config.DrainDelay; zero is Weft's default.
	DrainDelay time.Duration
	// GossipLoss and GossipDelay are the faults injected into the node's
	// gossip from its start (see Proc.SetFaults).
	GossipLoss  float64
	GossipDelay time.Duration
	// Debug logs at debug level (memberlist's lines included).
	Debug bool
}

// Proc is one node process on a host. Its methods that take no context
// fail the test (and must then be called from the test's goroutine);
// every wait has a deadline.
type Proc struct {
	lab     *Lab
	host    *Host
	label   string // "h1#2": host and start count, for messages
	cmd     *exec.Cmd
	stdin   *os.File
	logPath string
	served  string // path of the served log
	started nodeapi.Started

	writeMu sync.Mutex
	mu      sync.Mutex // guards seq, waiting, events
	seq     int
	waiting map[int]chan nodeapi.Message
	events  []nodeapi.Message
	first   chan nodeapi.Message // the first started or error event

	exited   chan struct{} // closed once the process is reaped
	waitErr  error         // set before exited closes
	readDone chan struct{} // closed once stdout is read to its end
}

// StartNode starts a node on the host and returns once it has joined the
// mesh and serves. The test fails if it cannot start, with the end of
// its log. The host must not run another process.
func (h *Host) StartNode(cfg NodeConfig) *Proc {
	l := h.lab
	l.t.Helper()
	p, err := h.startNode(cfg)
	if err != nil {
		l.t.Fatalf("hosttest: %v", err)
	}
	return p
}

func (h *Host) startNode(cfg NodeConfig) (*Proc, error) {
	l := h.lab
	bin, err := nodeBinary()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("the lab is closed")
	}
	if h.proc != nil && !h.proc.Exited() {
		l.mu.Unlock()
		return nil, fmt.Errorf("%s already runs %s: kill or shut it down first", h, h.proc.label)
	}
	n := 1
	for _, p := range l.procs {
		if p.host == h {
			n++
		}
	}
	p := &Proc{
		lab:      l,
		host:     h,
		label:    h.Name + "#" + strconv.Itoa(n),
		waiting:  make(map[int]chan nodeapi.Message),
		first:    make(chan nodeapi.Message, 1),
		exited:   make(chan struct{}),
		readDone: make(chan struct{}),
	}
	base := filepath.Join(l.dir, h.Name+"-"+strconv.Itoa(n))
	p.logPath, p.served = base+".log", base+".served"
	if cfg.Service == "" {
		cfg.Service = "echo"
	}
	args := []string{
		"netns", "exec", h.Namespace, bin,
		"-service", cfg.Service,
		"-host", h.Name,
		"-gossip", h.GossipAddr(),
		"-http", h.Addr(HTTPPort),
		"-join", strings.Join(cfg.Join, ","),
		"-served-log", p.served,
	}
	if cfg.PolicyFile != "" {
		args = append(args, "-policy", cfg.PolicyFile)
	}
	if cfg.AdminAddr != "" {
		args = append(args, "-admin", cfg.AdminAddr)
	}
	if cfg.Work > 0 {
		args = append(args, "-work", cfg.Work.String())
	}
	if cfg.DrainDelay > 0 {
		args = append(args, "-drain", cfg.DrainDelay.String())
	}
	if cfg.GossipLoss > 0 || cfg.GossipDelay > 0 {
		args = append(args, "-loss", strconv.FormatFloat(cfg.GossipLoss, 'g', -1, 64), "-delay", cfg.GossipDelay.String())
	}
	if cfg.Debug {
		args = append(args, "-debug")
	}
	err = p.start(l.tools.ip, args)
	if err == nil {
		l.procs = append(l.procs, p)
		h.proc = p
	}
	l.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start a node on %s: %w", h, err)
	}
	if err := p.awaitStarted(); err != nil {
		return nil, p.failure(err)
	}
	return p, nil
}

// start starts the process with its stdin and stdout as pipes and its
// stderr in the log file. Like proctest's programs, it runs in its own
// process group and the kernel kills it if the test binary dies first.
func (p *Proc) start(ip string, args []string) error {
	logFile, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	// ip netns exec enters the namespace and execs the program: the
	// process is the node itself.
	p.cmd = exec.Command(ip, args...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = p.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return err
	}
	p.stdin = inW
	go p.read(outR)
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return nil
}

// read dispatches the process's messages until its stdout ends.
func (p *Proc) read(r *os.File) {
	defer close(p.readDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var m nodeapi.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			m = nodeapi.Message{Event: nodeapi.EventError, Error: fmt.Sprintf("unreadable line %q: %v", sc.Text(), err)}
		}
		p.mu.Lock()
		if m.Seq != 0 {
			if ch, ok := p.waiting[m.Seq]; ok {
				ch <- m // buffered, and answered once
				delete(p.waiting, m.Seq)
			}
		} else {
			p.events = append(p.events, m)
			if m.Event == nodeapi.EventStarted || m.Event == nodeapi.EventError {
				select {
				case p.first <- m:
				default:
				}
			}
		}
		p.mu.Unlock()
	}
}

func (p *Proc) awaitStarted() error {
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case m := <-p.first:
		if m.Event == nodeapi.EventError || m.Started == nil {
			return errors.New(m.Error)
		}
		p.started = *m.Started
		return nil
	case <-p.exited:
		<-p.readDone
		select {
		case m := <-p.first:
			if m.Event == nodeapi.EventError {
				return errors.New(m.Error)
			}
		default:
		}
		return errors.New("exited before it started")
	case <-t.C:
		return fmt.Errorf("not started after %v", startTimeout)
	}
}

// Host returns the host the process runs on.
func (p *Proc) Host() *Host { return p.host }

// Node returns the node's gossip name.
func (p *Proc) Node() string { return p.started.Node }

// Started returns where the node listens.
func (p *Proc) Started() nodeapi.Started { return p.started }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Call sends req (its Seq is set here) and returns the reply. A reply with
// an Error is returned as an error, with the reply.
func (p *Proc) Call(ctx context.Context, req nodeapi.Request) (nodeapi.Message, error) {
	ch := make(chan nodeapi.Message, 1)
	p.mu.Lock()
	p.seq++
	req.Seq = p.seq
	p.waiting[req.Seq] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, req.Seq)
		p.mu.Unlock()
	}()
	line, err := json.Marshal(req)
	if err != nil {
		return nodeapi.Message{}, fmt.Errorf("hosttest: %s: %s: %w", p.label, req.Op, err)
	}
	p.writeMu.Lock()
	_, err = p.stdin.Write(append(line, '\n'))
	p.writeMu.Unlock()
	if err != nil {
		return nodeapi.Message{}, fmt.Errorf("hosttest: %s: send %s: %w", p.label, req.Op, err)
	}
	select {
	case m := <-ch:
		if m.Error != "" {
			return m, fmt.Errorf("hosttest: %s: %s: %s", p.label, req.Op, m.Error)
		}
		return m, nil
	case <-p.exited:
		return nodeapi.Message{}, fmt.Errorf("hosttest: %s: %s: the process exited (%v)", p.label, req.Op, p.waitErr)
	case <-ctx.Done():
		return nodeapi.Message{}, fmt.Errorf("hosttest: %s: %s: no reply: %w", p.label, req.Op, ctx.Err())
	}
}

// call is Call with the default deadline, failing the test on an error.
func (p *Proc) call(req nodeapi.Request) nodeapi.Message {
	p.lab.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	m, err := p.Call(ctx, req)
	if err != nil {
		p.lab.t.Fatal(err)
	}
	return m
}

// Members returns the node's view of the mesh. It returns an error rather
// than failing the test, for polls.
func (p *Proc) Members(ctx context.Context) (*nodeapi.Members, error) {
	m, err := p.Call(ctx, nodeapi.Request{Op: nodeapi.OpMembers})
	if err == nil && m.Members == nil {
		err = fmt.Errorf("hosttest: %s: members: empty reply", p.label)
	}
	return m.Members, err
}

// StartLoad starts an open-loop load from the node.
func (p *Proc) StartLoad(spec nodeapi.LoadSpec) {
	p.lab.t.Helper()
	p.call(nodeapi.Request{Op: nodeapi.OpLoad, Load: &spec})
}

// Outcomes returns the load's requests that ended since the last call.
func (p *Proc) Outcomes() []nodeapi.Outcome {
	p.lab.t.Helper()
	return p.call(nodeapi.Request{Op: nodeapi.OpOutcomes}).Outcomes
}

// StopLoad stops the load and returns the outcomes not yet returned, once
// the requests in flight have ended.
func (p *Proc) StopLoad() []nodeapi.Outcome {
	p.lab.t.Helper()
	return p.call(nodeapi.Request{Op: nodeapi.OpStopLoad}).Outcomes
}

// SetFaults sets the loss (0 to 1) and delay injected into the node's
// gossip.
func (p *Proc) SetFaults(loss float64, delay time.Duration) {
	p.lab.t.Helper()
	p.call(nodeapi.Request{Op: nodeapi.OpFaults, Loss: loss, Delay: delay})
}

// Get makes a plain HTTP GET from the host; a request without an answer
// ends in an error after timeout (if zero, 5 s).
func (p *Proc) Get(url string, timeout time.Duration) nodeapi.GetResult {
	p.lab.t.Helper()
	return *p.call(nodeapi.Request{Op: nodeapi.OpGet, URL: url, Duration: timeout}).Get
}

// Busy keeps the process's CPUs busy for d and returns, when that is
// over, the CPU time the process used meanwhile. It returns an error
// rather than failing the test, to be called from a goroutine while the
// test watches.
func (p *Proc) Busy(ctx context.Context, d time.Duration) (time.Duration, error) {
	m, err := p.Call(ctx, nodeapi.Request{Op: nodeapi.OpBusy, Duration: d})
	return m.CPU, err
}

// Shutdown shuts the node down gracefully and waits for the process to
// exit.
func (p *Proc) Shutdown() {
	p.lab.t.Helper()
	p.call(nodeapi.Request{Op: nodeapi.OpShutdown})
	t := time.NewTimer(procWaitTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.lab.t.Fatalf("hosttest: %s: still running %v after shutdown", p.label, procWaitTimeout)
	}
}

// Kill kills the process with SIGKILL, as a crash would, and waits until
// it is reaped.
func (p *Proc) Kill() {
	p.lab.t.Helper()
	if err := p.kill(procWaitTimeout); err != nil {
		p.lab.t.Fatal(err)
	}
}

// kill kills the process if it runs and waits, at most timeout, for it
// to be reaped and its output read.
func (p *Proc) kill(timeout time.Duration) error {
	if !p.Exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // it may have just exited
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for _, ch := range []chan struct{}{p.exited, p.readDone} {
		select {
		case <-ch:
		case <-t.C:
			return fmt.Errorf("hosttest: %s: not gone %v after SIGKILL", p.label, timeout)
		}
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.stdin.Close()
	return nil
}

// Served returns the request IDs the node's handler received, in order,
// once per time it received each; it works after the process is gone.
func (p *Proc) Served() []string {
	p.lab.t.Helper()
	b, err := os.ReadFile(p.served)
	if err != nil {
		p.lab.t.Fatalf("hosttest: %s: served log: %v", p.label, err)
	}
	return strings.Fields(string(b))
}

// failure wraps err with the process's label and the end of its log.
func (p *Proc) failure(err error) error {
	return fmt.Errorf("%s: %w\n--- %s log (last lines) ---\n%s", p.label, err, p.label, proctest.LogTail(p.logPath, 40))
}

// logTail writes the end of the process's log and its error events to
// the test log.
func (p *Proc) logTail() {
	p.mu.Lock()
	var errs []string
	for _, e := range p.events {
		if e.Event == nodeapi.EventError {
			errs = append(errs, e.Error)
		}
	}
	p.mu.Unlock()
	p.lab.t.Logf("--- %s (node %s) log, last lines; error events: %q ---\n%s", p.label, p.started.Node, errs, proctest.LogTail(p.logPath, 60))
}

// meshTimeout bounds StartMesh's wait for every node to see the others.
const meshTimeout = 60 * time.Second

// StartMesh starts a node on each of hosts (nil: every host of the lab)
// at once, each with every other of them as a seed (so that any of them
// can heal the mesh), and returns them, in order, once every node sees
// all of them alive and sends requests for the first node's service to
// all of them. configure, if not nil, adjusts each host's NodeConfig
// first; a Join or Service it sets is kept. The test fails if the mesh
// does not form.
func (l *Lab) StartMesh(hosts []*Host, configure func(h *Host, cfg *NodeConfig)) []*Proc {
	l.t.Helper()
	if hosts == nil {
		hosts = l.hosts
	}
	procs := make([]*Proc, len(hosts))
	errs := make([]error, len(hosts))
	service := ""
	var wg sync.WaitGroup
	for i, h := range hosts {
		var cfg NodeConfig
		for _, other := range hosts {
			if other != h {
				cfg.Join = append(cfg.Join, other.GossipAddr())
			}
		}
		if configure != nil {
			configure(h, &cfg)
		}
		if cfg.Service == "" {
			cfg.Service = "echo"
		}
		if service == "" {
			service = cfg.Service
		}
		wg.Go(func() { procs[i], errs[i] = h.startNode(cfg) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		l.t.Fatalf("hosttest: start a mesh: %v", err)
	}
	if _, err := Await(meshTimeout, func() error { return Converged(procs, service) }); err != nil {
		l.t.Fatalf("hosttest: the mesh did not form: %v", err)
	}
	return procs
}

// Command gomicro4-loadgen drives load from go-micro v4's client at a server serving
// helloworld.Helloworld (gomicro4-helloworld, gomicro5-helloworld, grpc-go-server,
// connect-go-server or micro's), the way peers/bench's loadgen does for grpc-go and
// connect-go, so that the benchmarks can measure go-micro's client against any server.
//
//	gomicro4-loadgen -target 127.0.0.1:50051 -client grpc -rpc unary -concurrency 32 -requests 20000
//
// It calls the service "helloworld" at -target directly (client.WithAddress: no registry
// lookup; the client is given go-micro's in-process memory registry, so it never touches
// mdns), with retries 0 and a request timeout of one minute, and otherwise go-micro's
// defaults, connection pooling included.
//
// -client:
//
//	grpc  go-micro's gRPC client plugin (github.com/go-micro/plugins/v4/client/grpc): the
//	      gRPC protocol, binary proto (application/grpc+proto), method
//	      /helloworld.Helloworld/Greeting, so it also calls a plain grpc-go server. Its pool
//	      gives a call the first pooled grpc-go ClientConn that is ready (or idle) with fewer
//	      than 20 calls in flight (DefaultPoolMaxStreams), else dials a new one without
//	      waiting for it to connect (the next call skips a conn still connecting and dials
//	      again); it keeps up to 100 conns per address (client.DefaultPoolSize), closes idle
//	      ones beyond 50 (DefaultPoolMaxIdle), and closes a conn that is idle and older than a
//	      minute (client.DefaultPoolTTL). So callers starting together open many connections,
//	      which stay open (17 to 32 for 32 callers in our runs, mostly idle: a busy conn
//	      takes 20 calls), and a run of more than a minute reconnects.
//	mucp  go-micro's default rpc client (client.DefaultClient) over its HTTP transport: one
//	      call at a time per TCP connection, so each caller has its own connection; the pool
//	      keeps up to 100 idle connections per address (client.DefaultPoolSize) and drops
//	      those older than a minute (client.DefaultPoolTTL) when taking one.
//
// -rpc:
//
//	unary          Helloworld.Greeting{name: "bench"}, checking the reply is "Hello bench";
//	               -requests calls, each timed.
//	server-stream  Streamer.Count{to: -messages} (service "streaming"), checking it receives
//	               1..to in order; -requests messages in all (calls of -messages, the last
//	               one shorter if -messages does not divide -requests), each call timed as a
//	               whole.
//	bidi           Streamer.Shout: every caller opens one stream and, for its share of the
//	               -requests messages, sends "bench" and waits for "BENCH", each round trip
//	               timed; opening and closing the stream are in the measured time.
//
// The streams are go-micro's client.Stream, used as protoc-gen-micro's generated clients use
// it: Send the request, then Recv until io.EOF. The gRPC client half-closes (CloseSend) after
// the Count request and at the end of a Shout stream, then expects io.EOF. The rpc client has
// no half-close (its CloseSend returns "streamer not implemented"): a Count stream ends when
// the server sends go-micro's end-of-stream message, and a Shout stream is ended by Close,
// which sends one to the server and does not wait for the server's. go-micro's servers
// serve Streamer with `gomicro4-helloworld --streamer`.
//
// go-micro's own rpc server (v4.11 and v5.30) fails server-stream: it queues each message it
// streams with its body still in the codec's write buffer, which the next message reuses, so
// messages sent back to back arrive as copies of a later one ("Count sent 100 as message 1")
// or garbled ("unexpected EOF"). bidi works, one message in flight per stream.
//
// -warmup requests (or messages) are made first the same way and not measured (default
// -requests/10). Then it prints one JSON line on stdout:
//
//	{"requests":N,"seconds":S,"per_second":R,"p50_us":..,"p99_us":..,"cpu_seconds":C}
//
// requests is calls (unary) or messages (streams), per_second is requests/seconds, p50_us
// and p99_us are latency percentiles (nearest rank) in microseconds, and cpu_seconds is this
// process's user+system CPU time during the measured part (getrusage). Any failed call or
// wrong answer ends it with a message on stderr and exit status 1; nothing is counted as a
// failure and carried on.
//
// go-micro's clients always give a unary call a deadline (the request timeout), which the
// gRPC client sends as grpc-timeout and the rpc client as its Timeout header; streams get none.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	grpcclient "github.com/go-micro/plugins/v4/client/grpc"
	"github.com/micro-rs/micro-rs/peers/gomicro-v4/helloworld"
	"github.com/micro-rs/micro-rs/peers/gomicro-v4/streaming"
	"go-micro.dev/v4/client"
	"go-micro.dev/v4/registry"
)

const (
	service  = "helloworld"
	endpoint = "Helloworld.Greeting"
	name     = "bench"
	greeting = "Hello bench"
	shouted  = "BENCH"

	streamService = "streaming"
	countEndpoint = "Streamer.Count"
	shoutEndpoint = "Streamer.Shout"

	// requestTimeout is generous: a slow call is measured, not failed.
	requestTimeout = time.Minute
)

// greeter makes calls to Helloworld.Greeting and Streamer at one address.
type greeter struct {
	c    client.Client
	opts []client.CallOption
	// halfClose: the client has CloseSend (gRPC), not the rpc client.
	halfClose bool
}

// greet calls Helloworld.Greeting once, as protoc-gen-micro's generated client does, and
// checks the answer.
func (g *greeter) greet(ctx context.Context) error {
	req := g.c.NewRequest(service, endpoint, &helloworld.Request{Name: name})
	rsp := &helloworld.Response{}
	if err := g.c.Call(ctx, req, rsp, g.opts...); err != nil {
		return err
	}
	if rsp.Message != greeting {
		return fmt.Errorf("Greeting answered %q, want %q", rsp.Message, greeting)
	}
	return nil
}

// count calls Streamer.Count{to} and checks it receives 1..to.
func (g *greeter) count(ctx context.Context, to uint32) error {
	req := g.c.NewRequest(streamService, countEndpoint, &streaming.CountRequest{})
	stream, err := g.c.Stream(ctx, req, g.opts...)
	if err != nil {
		return err
	}
	defer stream.Close()
	if err := stream.Send(&streaming.CountRequest{To: to}); err != nil {
		return fmt.Errorf("Count send: %w", err)
	}
	if g.halfClose {
		if err := stream.CloseSend(); err != nil {
			return fmt.Errorf("Count close send: %w", err)
		}
	}
	var got uint32
	for {
		reply := &streaming.CountReply{}
		err := stream.Recv(reply)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("Count after %d messages: %w", got, err)
		}
		got++
		if reply.Number != got {
			return fmt.Errorf("Count sent %d as message %d", reply.Number, got)
		}
	}
	if got != to {
		return fmt.Errorf("Count to %d ended after %d messages", to, got)
	}
	return nil
}

// shout opens a Streamer.Shout stream.
func (g *greeter) shout(ctx context.Context) (*shoutStream, error) {
	req := g.c.NewRequest(streamService, shoutEndpoint, &streaming.Words{})
	stream, err := g.c.Stream(ctx, req, g.opts...)
	if err != nil {
		return nil, err
	}
	return &shoutStream{stream, g.halfClose}, nil
}

type shoutStream struct {
	stream    client.Stream
	halfClose bool
}

// roundTrip sends "bench" and checks the next message is "BENCH".
func (s *shoutStream) roundTrip() error {
	if err := s.stream.Send(&streaming.Words{Text: name}); err != nil {
		return fmt.Errorf("Shout send: %w", err)
	}
	reply := &streaming.Words{}
	if err := s.stream.Recv(reply); err != nil {
		return fmt.Errorf("Shout receive: %w", err)
	}
	if reply.Text != shouted {
		return fmt.Errorf("Shout answered %q, want %q", reply.Text, shouted)
	}
	return nil
}

// close ends the stream: with the gRPC client, ends the request side and checks the server
// ends the stream cleanly; with the rpc client, just closes it (sending go-micro's end of
// stream).
func (s *shoutStream) close() error {
	defer s.stream.Close()
	if !s.halfClose {
		return nil
	}
	if err := s.stream.CloseSend(); err != nil {
		return err
	}
	reply := &streaming.Words{}
	err := s.stream.Recv(reply)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("Shout end: %w", err)
	}
	return fmt.Errorf("Shout sent %q after the request ended", reply.Text)
}

func newGreeter(kind, target string) *greeter {
	options := []client.Option{
		client.Registry(registry.NewMemoryRegistry()),
		client.Retries(0),
		client.RequestTimeout(requestTimeout),
		// The rpc client's limit on one attempt (default 5s), apart from the request timeout;
		// v4 has no option for it.
		func(o *client.Options) { o.CallOptions.ConnectionTimeout = requestTimeout },
	}
	var c client.Client
	switch kind {
	case "grpc":
		c = grpcclient.NewClient(options...)
	case "mucp":
		c = client.DefaultClient
		if err := c.Init(options...); err != nil {
			fail("cannot configure the client: %v", err)
		}
	default:
		fail("-client %q: want grpc or mucp", kind)
	}
	return &greeter{c, []client.CallOption{client.WithAddress(target)}, kind == "grpc"}
}

type config struct {
	rpc         string
	concurrency int
	messages    int
	greeter     *greeter
}

// run makes total requests (unary) or messages (streams) with cfg.concurrency callers and
// returns every latency recorded, how long it took and the CPU time it used. Any failure
// ends the process.
func run(ctx context.Context, cfg config, total int) ([]time.Duration, time.Duration, time.Duration) {
	callers := cfg.concurrency
	g := cfg.greeter
	var calls int // how many calls there are to claim (unary, server-stream)
	switch cfg.rpc {
	case "unary":
		calls = total
	case "server-stream":
		calls = (total + cfg.messages - 1) / cfg.messages
	}
	var claimed atomic.Int64
	latencies := make([][]time.Duration, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		// This caller's share of the bidi messages, or a first guess at its share of calls.
		share := total / callers
		if i < total%callers {
			share++
		}
		if cfg.rpc == "server-stream" {
			share = calls/callers + 1
		}
		own := make([]time.Duration, 0, share)
		wg.Go(func() {
			defer func() { latencies[i] = own }()
			<-start
			switch cfg.rpc {
			case "unary":
				for claimed.Add(1) <= int64(calls) {
					began := time.Now()
					if err := g.greet(ctx); err != nil {
						fail("unary Greeting: %v", err)
					}
					own = append(own, time.Since(began))
				}
			case "server-stream":
				for {
					call := int(claimed.Add(1))
					if call > calls {
						break
					}
					to := cfg.messages
					if call == calls {
						to = total - (calls-1)*cfg.messages
					}
					began := time.Now()
					if err := g.count(ctx, uint32(to)); err != nil {
						fail("server-stream Count: %v", err)
					}
					own = append(own, time.Since(began))
				}
			case "bidi":
				if share == 0 {
					return
				}
				stream, err := g.shout(ctx)
				if err != nil {
					fail("bidi Shout: %v", err)
				}
				for range share {
					began := time.Now()
					if err := stream.roundTrip(); err != nil {
						fail("bidi %v", err)
					}
					own = append(own, time.Since(began))
				}
				if err := stream.close(); err != nil {
					fail("bidi %v", err)
				}
			}
		})
	}
	cpuBefore := cpuTime()
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	cpu := cpuTime() - cpuBefore
	return slices.Concat(latencies...), elapsed, cpu
}

func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		fail("getrusage: %v", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// percentile is the nearest-rank percentile p (0-100) of sorted, in microseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return round(float64(sorted[rank-1]) / float64(time.Microsecond))
}

func round(x float64) float64 { return math.Round(x*10) / 10 }

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(1)
}

type result struct {
	Requests   int     `json:"requests"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

func main() {
	target := flag.String("target", "", "the server, host:port (required)")
	kind := flag.String("client", "grpc", "grpc | mucp")
	rpc := flag.String("rpc", "unary", "unary | server-stream | bidi")
	concurrency := flag.Int("concurrency", 1, "callers, each making one call at a time")
	requests := flag.Int("requests", 10000, "calls (unary) or messages (streams) to measure")
	messages := flag.Int("messages", 1000, "server-stream: messages per Count call")
	warmup := flag.Int("warmup", -1, "calls (or messages) made first, not measured (default -requests/10)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up (exit 1) if the whole run takes longer")
	flag.Parse()

	switch {
	case *target == "":
		fail("-target host:port is required")
	case flag.NArg() > 0:
		fail("unexpected arguments %q", flag.Args())
	case *concurrency < 1 || *requests < 1 || *messages < 1:
		fail("-concurrency, -requests and -messages must be at least 1")
	case *rpc != "unary" && *rpc != "server-stream" && *rpc != "bidi":
		fail("-rpc %q: want unary, server-stream or bidi", *rpc)
	case *messages > math.MaxUint32:
		fail("-messages too large")
	}
	if *warmup < 0 {
		*warmup = *requests / 10
	}
	time.AfterFunc(*timeout, func() { fail("gave up after -timeout %v", *timeout) })

	cfg := config{rpc: *rpc, concurrency: *concurrency, messages: *messages, greeter: newGreeter(*kind, *target)}
	ctx := context.Background()
	if *warmup > 0 {
		run(ctx, cfg, *warmup)
	}
	latencies, elapsed, cpu := run(ctx, cfg, *requests)
	slices.Sort(latencies)
	seconds := elapsed.Seconds()
	out, err := json.Marshal(result{
		Requests:   *requests,
		Seconds:    math.Round(seconds*1e6) / 1e6,
		PerSecond:  round(float64(*requests) / seconds),
		P50us:      percentile(latencies, 50),
		P99us:      percentile(latencies, 99),
		CPUSeconds: math.Round(cpu.Seconds()*1e3) / 1e3,
	})
	if err != nil {
		fail("%v", err)
	}
	fmt.Println(string(out))
}

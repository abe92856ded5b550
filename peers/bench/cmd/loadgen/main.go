// Command loadgen drives load from Go clients (grpc-go or connect-go) at a server serving
// helloworld.Helloworld and streaming.Streamer (grpc-go-server, connect-go-server or micro's),
// so that the benchmarks can measure Go clients against any server.
//
//	loadgen -target 127.0.0.1:50051 -client grpc-go -rpc unary -concurrency 32 -requests 20000
//
// -client:
//
//	grpc-go       grpc-go, -connections ClientConns (each one HTTP/2 connection, as grpc-go
//	              dials), callers sharing them round-robin.
//	connect-grpc  connect-go with connect.WithGRPC(): the gRPC protocol, binary proto, over
//	              cleartext HTTP/2 (h2c: an http.Transport with only UnencryptedHTTP2 enabled).
//	connect-json  connect-go with connect.WithProtoJSON(): the Connect protocol, JSON, over
//	              h2c like connect-grpc (bidi streaming needs HTTP/2), or over HTTP/1.1 with
//	              -http1 (unary and server-stream only).
//
// The connect clients use one http.Client (one transport) unless -connections > 1, then one
// per connection, callers sharing them round-robin. They keep connect-go's defaults, so they
// accept gzip responses: a connect-go server gzips its answers to them (-gzip=false stops
// advertising it; grpc-go clients advertise no compression).
//
// -rpc:
//
//	unary          Helloworld.Greeting{name: "bench"}, checking the reply is "Hello bench";
//	               -requests calls, each timed.
//	server-stream  Streamer.Count{to: -messages}, checking it receives 1..to in order;
//	               -requests messages in all (calls of -messages, the last one shorter if
//	               -messages does not divide -requests), each call timed as a whole.
//	bidi           Streamer.Shout: every caller opens one stream and, for its share of the
//	               -requests messages, sends "bench" and waits for "BENCH", each round trip
//	               timed; opening and closing the stream are in the measured time.
//
// -warmup requests (or messages) are made first the same way and not measured (default
// -requests/10). Then it prints one JSON line on stdout:
//
//	{"requests":N,"seconds":S,"per_second":R,"p50_us":..,"p99_us":..,"cpu_seconds":C}
//
// requests is calls (unary) or messages (streams), per_second is requests/seconds, p50_us
// and p99_us are latency percentiles (nearest rank) in microseconds, and cpu_seconds is this
// process's user+system CPU time during the measured part (getrusage). Any failed call or
// wrong answer ends it with a message on stderr and exit status 1; nothing is counted as
// a failure and carried on.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/micro-rs/micro-rs/peers/bench/helloworld"
	"github.com/micro-rs/micro-rs/peers/bench/helloworld/helloworldconnect"
	"github.com/micro-rs/micro-rs/peers/bench/streaming"
	"github.com/micro-rs/micro-rs/peers/bench/streaming/streamingconnect"
)

// client is one connection's worth of client (a grpc-go ClientConn or a connect-go
// http.Client), making the three kinds of call the benchmark times.
type client interface {
	// greet calls Helloworld.Greeting once and checks the answer.
	greet(ctx context.Context) error
	// count calls Streamer.Count{to} and checks it receives 1..to.
	count(ctx context.Context, to uint32) error
	// shout opens a Streamer.Shout stream.
	shout(ctx context.Context) (shoutStream, error)
}

type shoutStream interface {
	// roundTrip sends "bench" and checks the next message is "BENCH".
	roundTrip() error
	// close ends the request side and checks the server ends the stream cleanly.
	close() error
}

const (
	name     = "bench"
	greeting = "Hello bench"
	shouted  = "BENCH"
)

// grpc-go

type grpcClient struct {
	greeter  helloworld.HelloworldClient
	streamer streaming.StreamerClient
}

func (c *grpcClient) greet(ctx context.Context) error {
	reply, err := c.greeter.Greeting(ctx, &helloworld.Request{Name: name})
	if err != nil {
		return err
	}
	if reply.GetMessage() != greeting {
		return fmt.Errorf("Greeting answered %q, want %q", reply.GetMessage(), greeting)
	}
	return nil
}

func (c *grpcClient) count(ctx context.Context, to uint32) error {
	stream, err := c.streamer.Count(ctx, &streaming.CountRequest{To: to})
	if err != nil {
		return err
	}
	var got uint32
	for {
		reply, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("Count after %d messages: %w", got, err)
		}
		got++
		if reply.GetNumber() != got {
			return fmt.Errorf("Count sent %d as message %d", reply.GetNumber(), got)
		}
	}
	if got != to {
		return fmt.Errorf("Count to %d ended after %d messages", to, got)
	}
	return nil
}

func (c *grpcClient) shout(ctx context.Context) (shoutStream, error) {
	stream, err := c.streamer.Shout(ctx)
	if err != nil {
		return nil, err
	}
	return &grpcShout{stream}, nil
}

type grpcShout struct {
	stream grpc.BidiStreamingClient[streaming.Words, streaming.Words]
}

func (s *grpcShout) roundTrip() error {
	if err := s.stream.Send(&streaming.Words{Text: name}); err != nil {
		if errors.Is(err, io.EOF) {
			// The stream ended: Recv has the status.
			_, err = s.stream.Recv()
		}
		return fmt.Errorf("Shout send: %w", err)
	}
	reply, err := s.stream.Recv()
	if err != nil {
		return fmt.Errorf("Shout receive: %w", err)
	}
	if reply.GetText() != shouted {
		return fmt.Errorf("Shout answered %q, want %q", reply.GetText(), shouted)
	}
	return nil
}

func (s *grpcShout) close() error {
	if err := s.stream.CloseSend(); err != nil {
		return err
	}
	reply, err := s.stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("Shout end: %w", err)
	}
	return fmt.Errorf("Shout sent %q after the request ended", reply.GetText())
}

func dialGRPC(target string) (client, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &grpcClient{helloworld.NewHelloworldClient(conn), streaming.NewStreamerClient(conn)}, nil
}

// connect-go

type connectClient struct {
	greeter  helloworldconnect.HelloworldClient
	streamer streamingconnect.StreamerClient
}

func (c *connectClient) greet(ctx context.Context) error {
	reply, err := c.greeter.Greeting(ctx, connect.NewRequest(&helloworld.Request{Name: name}))
	if err != nil {
		return err
	}
	if reply.Msg.GetMessage() != greeting {
		return fmt.Errorf("Greeting answered %q, want %q", reply.Msg.GetMessage(), greeting)
	}
	return nil
}

func (c *connectClient) count(ctx context.Context, to uint32) error {
	stream, err := c.streamer.Count(ctx, connect.NewRequest(&streaming.CountRequest{To: to}))
	if err != nil {
		return err
	}
	var got uint32
	for stream.Receive() {
		got++
		if n := stream.Msg().GetNumber(); n != got {
			stream.Close()
			return fmt.Errorf("Count sent %d as message %d", n, got)
		}
	}
	if err := stream.Err(); err != nil {
		stream.Close()
		return fmt.Errorf("Count after %d messages: %w", got, err)
	}
	if err := stream.Close(); err != nil {
		return fmt.Errorf("Count close: %w", err)
	}
	if got != to {
		return fmt.Errorf("Count to %d ended after %d messages", to, got)
	}
	return nil
}

func (c *connectClient) shout(ctx context.Context) (shoutStream, error) {
	return &connectShout{c.streamer.Shout(ctx)}, nil
}

type connectShout struct {
	stream *connect.BidiStreamForClient[streaming.Words, streaming.Words]
}

func (s *connectShout) roundTrip() error {
	if err := s.stream.Send(&streaming.Words{Text: name}); err != nil {
		if errors.Is(err, io.EOF) {
			// The stream ended: Receive has the status.
			_, err = s.stream.Receive()
		}
		return fmt.Errorf("Shout send: %w", err)
	}
	reply, err := s.stream.Receive()
	if err != nil {
		return fmt.Errorf("Shout receive: %w", err)
	}
	if reply.GetText() != shouted {
		return fmt.Errorf("Shout answered %q, want %q", reply.GetText(), shouted)
	}
	return nil
}

func (s *connectShout) close() error {
	if err := s.stream.CloseRequest(); err != nil {
		return err
	}
	reply, err := s.stream.Receive()
	if err == nil {
		return fmt.Errorf("Shout sent %q after the request ended", reply.GetText())
	}
	if !errors.Is(err, io.EOF) {
		return fmt.Errorf("Shout end: %w", err)
	}
	return s.stream.CloseResponse()
}

// newConnectClient makes one connect-go client with its own transport: h2c, or HTTP/1.1
// keeping up to idle connections open.
func newConnectClient(target string, http1 bool, idle int, opts ...connect.ClientOption) client {
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
	}
	transport.Protocols = new(http.Protocols)
	if http1 {
		transport.Protocols.SetHTTP1(true)
	} else {
		transport.Protocols.SetUnencryptedHTTP2(true)
	}
	httpClient := &http.Client{Transport: transport}
	base := "http://" + target
	return &connectClient{
		helloworldconnect.NewHelloworldClient(httpClient, base, opts...),
		streamingconnect.NewStreamerClient(httpClient, base, opts...),
	}
}

// The load

type config struct {
	rpc         string
	concurrency int
	messages    int
	clients     []client
}

// run makes total requests (unary) or messages (streams) with cfg.concurrency callers and
// returns every latency recorded, how long it took and the CPU time it used. Any failure
// ends the process.
func run(ctx context.Context, cfg config, total int) ([]time.Duration, time.Duration, time.Duration) {
	callers := cfg.concurrency
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
		c := cfg.clients[i%len(cfg.clients)]
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
					if err := c.greet(ctx); err != nil {
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
					if err := c.count(ctx, uint32(to)); err != nil {
						fail("server-stream Count: %v", err)
					}
					own = append(own, time.Since(began))
				}
			case "bidi":
				if share == 0 {
					return
				}
				stream, err := c.shout(ctx)
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
	kind := flag.String("client", "grpc-go", "grpc-go | connect-grpc | connect-json")
	rpc := flag.String("rpc", "unary", "unary | server-stream | bidi")
	concurrency := flag.Int("concurrency", 1, "callers, each making one call at a time")
	requests := flag.Int("requests", 10000, "calls (unary) or messages (streams) to measure")
	messages := flag.Int("messages", 1000, "server-stream: messages per Count call")
	connections := flag.Int("connections", 1, "grpc-go ClientConns, or connect-go http.Clients, shared round-robin")
	warmup := flag.Int("warmup", -1, "calls (or messages) made first, not measured (default -requests/10)")
	http1 := flag.Bool("http1", false, "connect-json: HTTP/1.1 instead of h2c (not with -rpc bidi)")
	gzip := flag.Bool("gzip", true, "connect clients: accept gzip responses (connect-go's default)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up (exit 1) if the whole run takes longer")
	flag.Parse()

	switch {
	case *target == "":
		fail("-target host:port is required")
	case flag.NArg() > 0:
		fail("unexpected arguments %q", flag.Args())
	case *concurrency < 1 || *requests < 1 || *connections < 1 || *messages < 1:
		fail("-concurrency, -requests, -connections and -messages must be at least 1")
	case *rpc != "unary" && *rpc != "server-stream" && *rpc != "bidi":
		fail("-rpc %q: want unary, server-stream or bidi", *rpc)
	case *http1 && *kind != "connect-json":
		fail("-http1 is for -client connect-json only")
	case *http1 && *rpc == "bidi":
		fail("-http1: bidi streaming needs HTTP/2")
	case *messages > math.MaxUint32:
		fail("-messages too large")
	}
	if *warmup < 0 {
		*warmup = *requests / 10
	}
	// A hung call must not hang the benchmark: no per-call deadline (grpc-go would send it
	// as grpc-timeout, changing the request), just a limit on the whole run.
	time.AfterFunc(*timeout, func() { fail("gave up after -timeout %v", *timeout) })

	var opts []connect.ClientOption
	if !*gzip {
		opts = append(opts, connect.WithAcceptCompression("gzip", nil, nil))
	}
	switch *kind {
	case "connect-grpc":
		opts = append(opts, connect.WithGRPC())
	case "connect-json":
		opts = append(opts, connect.WithProtoJSON())
	}
	clients := make([]client, *connections)
	for i := range clients {
		switch *kind {
		case "grpc-go":
			c, err := dialGRPC(*target)
			if err != nil {
				fail("grpc.NewClient %s: %v", *target, err)
			}
			clients[i] = c
		case "connect-grpc", "connect-json":
			// Enough idle HTTP/1.1 connections for every caller sharing this client.
			idle := (*concurrency + *connections - 1) / *connections
			clients[i] = newConnectClient(*target, *http1, idle, opts...)
		default:
			fail("-client %q: want grpc-go, connect-grpc or connect-json", *kind)
		}
	}

	cfg := config{rpc: *rpc, concurrency: *concurrency, messages: *messages, clients: clients}
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

// Command gomicro5-loadgen drives load from go-micro v5's client at a server serving
// helloworld.Helloworld (gomicro5-helloworld, gomicro4-helloworld, grpc-go-server,
// connect-go-server or micro's), the way peers/bench's loadgen does for grpc-go and
// connect-go, so that the benchmarks can measure go-micro's client against any server.
//
//	gomicro5-loadgen -target 127.0.0.1:50051 -client grpc -rpc unary -concurrency 32 -requests 20000
//
// It calls the service "helloworld" at -target directly (client.WithAddress: no registry
// lookup; the client is given go-micro's in-process memory registry, so it never touches
// mdns), with retries 0 and a request timeout of one minute, and otherwise go-micro's
// defaults, connection pooling included.
//
// -client:
//
//	grpc  go-micro's gRPC client (go-micro.dev/v5/client/grpc): the gRPC protocol, binary
//	      proto (application/grpc+proto), method /helloworld.Helloworld/Greeting, so it also
//	      calls a plain grpc-go server. Its pool gives a call the first pooled grpc-go
//	      ClientConn that is ready (or idle) with fewer than 20 calls in flight
//	      (DefaultPoolMaxStreams), else dials a new one without waiting for it to connect
//	      (the next call skips a conn still connecting and dials again); it keeps up to 100
//	      conns per address (client.DefaultPoolSize), closes idle ones beyond 50
//	      (DefaultPoolMaxIdle), and closes a conn that is idle and older than a minute
//	      (client.DefaultPoolTTL). So callers starting together open many connections,
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
// serve Streamer with `gomicro5-helloworld --streamer`.
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
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/micro-rs/micro-rs/peers/gomicro-v5/helloworld"
	"github.com/micro-rs/micro-rs/peers/gomicro-v5/streaming"
	"github.com/micro-rs/micro-rs/peers/load"
	"go-micro.dev/v5/client"
	grpcclient "go-micro.dev/v5/client/grpc"
	"go-micro.dev/v5/registry"
)

const (
	service  = "helloworld"
	endpoint = "Helloworld.Greeting"

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

// Greet calls Helloworld.Greeting once, as protoc-gen-micro's generated client does, and
// checks the answer.
func (g *greeter) Greet(ctx context.Context) error {
	req := g.c.NewRequest(service, endpoint, &helloworld.Request{Name: load.Name})
	rsp := &helloworld.Response{}
	if err := g.c.Call(ctx, req, rsp, g.opts...); err != nil {
		return err
	}
	if rsp.Message != load.Greeting {
		return fmt.Errorf("Greeting answered %q, want %q", rsp.Message, load.Greeting)
	}
	return nil
}

// Count calls Streamer.Count{to} and checks it receives 1..to.
func (g *greeter) Count(ctx context.Context, to uint32) error {
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

// Shout opens a Streamer.Shout stream.
func (g *greeter) Shout(ctx context.Context) (load.ShoutStream, error) {
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

// RoundTrip sends "bench" and checks the next message is "BENCH".
func (s *shoutStream) RoundTrip() error {
	if err := s.stream.Send(&streaming.Words{Text: load.Name}); err != nil {
		return fmt.Errorf("Shout send: %w", err)
	}
	reply := &streaming.Words{}
	if err := s.stream.Recv(reply); err != nil {
		return fmt.Errorf("Shout receive: %w", err)
	}
	if reply.Text != load.Shouted {
		return fmt.Errorf("Shout answered %q, want %q", reply.Text, load.Shouted)
	}
	return nil
}

// Close ends the stream: with the gRPC client, ends the request side and checks the server
// ends the stream cleanly; with the rpc client, just closes it (sending go-micro's end of
// stream).
func (s *shoutStream) Close() error {
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
		// The rpc client's limit on one attempt (default 5s), apart from the request timeout.
		client.ConnectionTimeout(requestTimeout),
	}
	var c client.Client
	switch kind {
	case "grpc":
		c = grpcclient.NewClient(options...)
	case "mucp":
		c = client.DefaultClient
		if err := c.Init(options...); err != nil {
			load.Fail("cannot configure the client: %v", err)
		}
	default:
		load.Fail("-client %q: want grpc or mucp", kind)
	}
	return &greeter{c, []client.CallOption{client.WithAddress(target)}, kind == "grpc"}
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
		load.Fail("-target host:port is required")
	case flag.NArg() > 0:
		load.Fail("unexpected arguments %q", flag.Args())
	case *concurrency < 1 || *requests < 1 || *messages < 1:
		load.Fail("-concurrency, -requests and -messages must be at least 1")
	case *rpc != "unary" && *rpc != "server-stream" && *rpc != "bidi":
		load.Fail("-rpc %q: want unary, server-stream or bidi", *rpc)
	case *messages > math.MaxUint32:
		load.Fail("-messages too large")
	}
	if *warmup < 0 {
		*warmup = *requests / 10
	}
	time.AfterFunc(*timeout, func() { load.Fail("gave up after -timeout %v", *timeout) })

	cfg := load.Config{RPC: *rpc, Concurrency: *concurrency, Messages: *messages, Callers: []load.Caller{newGreeter(*kind, *target)}}
	load.Print(load.Measure(context.Background(), cfg, *warmup, *requests))
}

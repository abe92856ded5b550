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
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/micro-rs/micro-rs/peers/bench/helloworld"
	"github.com/micro-rs/micro-rs/peers/bench/helloworld/helloworldconnect"
	"github.com/micro-rs/micro-rs/peers/bench/streaming"
	"github.com/micro-rs/micro-rs/peers/bench/streaming/streamingconnect"
	"github.com/micro-rs/micro-rs/peers/load"
)

// grpc-go

type grpcClient struct {
	greeter  helloworld.HelloworldClient
	streamer streaming.StreamerClient
}

func (c *grpcClient) Greet(ctx context.Context) error {
	reply, err := c.greeter.Greeting(ctx, &helloworld.Request{Name: load.Name})
	if err != nil {
		return err
	}
	if reply.GetMessage() != load.Greeting {
		return fmt.Errorf("Greeting answered %q, want %q", reply.GetMessage(), load.Greeting)
	}
	return nil
}

func (c *grpcClient) Count(ctx context.Context, to uint32) error {
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

func (c *grpcClient) Shout(ctx context.Context) (load.ShoutStream, error) {
	stream, err := c.streamer.Shout(ctx)
	if err != nil {
		return nil, err
	}
	return &grpcShout{stream}, nil
}

type grpcShout struct {
	stream grpc.BidiStreamingClient[streaming.Words, streaming.Words]
}

func (s *grpcShout) RoundTrip() error {
	if err := s.stream.Send(&streaming.Words{Text: load.Name}); err != nil {
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
	if reply.GetText() != load.Shouted {
		return fmt.Errorf("Shout answered %q, want %q", reply.GetText(), load.Shouted)
	}
	return nil
}

func (s *grpcShout) Close() error {
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

func dialGRPC(target string) (load.Caller, error) {
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

func (c *connectClient) Greet(ctx context.Context) error {
	reply, err := c.greeter.Greeting(ctx, connect.NewRequest(&helloworld.Request{Name: load.Name}))
	if err != nil {
		return err
	}
	if reply.Msg.GetMessage() != load.Greeting {
		return fmt.Errorf("Greeting answered %q, want %q", reply.Msg.GetMessage(), load.Greeting)
	}
	return nil
}

func (c *connectClient) Count(ctx context.Context, to uint32) error {
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

func (c *connectClient) Shout(ctx context.Context) (load.ShoutStream, error) {
	return &connectShout{c.streamer.Shout(ctx)}, nil
}

type connectShout struct {
	stream *connect.BidiStreamForClient[streaming.Words, streaming.Words]
}

func (s *connectShout) RoundTrip() error {
	if err := s.stream.Send(&streaming.Words{Text: load.Name}); err != nil {
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
	if reply.GetText() != load.Shouted {
		return fmt.Errorf("Shout answered %q, want %q", reply.GetText(), load.Shouted)
	}
	return nil
}

func (s *connectShout) Close() error {
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
func newConnectClient(target string, http1 bool, idle int, opts ...connect.ClientOption) load.Caller {
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
		load.Fail("-target host:port is required")
	case flag.NArg() > 0:
		load.Fail("unexpected arguments %q", flag.Args())
	case *concurrency < 1 || *requests < 1 || *connections < 1 || *messages < 1:
		load.Fail("-concurrency, -requests, -connections and -messages must be at least 1")
	case *rpc != "unary" && *rpc != "server-stream" && *rpc != "bidi":
		load.Fail("-rpc %q: want unary, server-stream or bidi", *rpc)
	case *http1 && *kind != "connect-json":
		load.Fail("-http1 is for -client connect-json only")
	case *http1 && *rpc == "bidi":
		load.Fail("-http1: bidi streaming needs HTTP/2")
	case *messages > math.MaxUint32:
		load.Fail("-messages too large")
	}
	if *warmup < 0 {
		*warmup = *requests / 10
	}
	// A hung call must not hang the benchmark: no per-call deadline (grpc-go would send it
	// as grpc-timeout, changing the request), just a limit on the whole run.
	time.AfterFunc(*timeout, func() { load.Fail("gave up after -timeout %v", *timeout) })

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
	clients := make([]load.Caller, *connections)
	for i := range clients {
		switch *kind {
		case "grpc-go":
			c, err := dialGRPC(*target)
			if err != nil {
				load.Fail("grpc.NewClient %s: %v", *target, err)
			}
			clients[i] = c
		case "connect-grpc", "connect-json":
			// Enough idle HTTP/1.1 connections for every caller sharing this client.
			idle := (*concurrency + *connections - 1) / *connections
			clients[i] = newConnectClient(*target, *http1, idle, opts...)
		default:
			load.Fail("-client %q: want grpc-go, connect-grpc or connect-json", *kind)
		}
	}

	cfg := load.Config{RPC: *rpc, Concurrency: *concurrency, Messages: *messages, Callers: clients}
	load.Print(load.Measure(context.Background(), cfg, *warmup, *requests))
}

// Command connect-go-server serves helloworld.Helloworld and streaming.Streamer with
// connect-go on net/http, so one port answers the Connect protocol (JSON and binary proto),
// gRPC and gRPC-Web, over HTTP/1.1 and over cleartext HTTP/2 (h2c, enabled with
// http.Protocols.SetUnencryptedHTTP2, which gRPC needs). Otherwise connect-go's and
// net/http's defaults, as users run them.
//
//	connect-go-server -listen 127.0.0.1:0
//
// It prints "listening on <addr>" as its first line once it accepts connections, then serves
// until killed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/micro-rs/micro-rs/peers/bench/helloworld"
	"github.com/micro-rs/micro-rs/peers/bench/helloworld/helloworldconnect"
	"github.com/micro-rs/micro-rs/peers/bench/streaming"
	"github.com/micro-rs/micro-rs/peers/bench/streaming/streamingconnect"
)

type greeter struct{}

func (greeter) Greeting(
	_ context.Context, req *connect.Request[helloworld.Request],
) (*connect.Response[helloworld.Response], error) {
	return connect.NewResponse(&helloworld.Response{Message: "Hello " + req.Msg.GetName()}), nil
}

type streamer struct{}

func (streamer) Ping(
	_ context.Context, req *connect.Request[streaming.PingRequest],
) (*connect.Response[streaming.PingReply], error) {
	return connect.NewResponse(&streaming.PingReply{Text: req.Msg.GetText()}), nil
}

func (streamer) Count(
	ctx context.Context, req *connect.Request[streaming.CountRequest],
	stream *connect.ServerStream[streaming.CountReply],
) error {
	interval := time.Duration(req.Msg.GetIntervalMs()) * time.Millisecond
	for n := uint32(1); n <= req.Msg.GetTo(); n++ {
		if n > 1 && interval > 0 {
			select {
			case <-time.After(interval):
			case <-ctx.Done():
				return connect.NewError(connect.CodeCanceled, ctx.Err())
			}
		}
		if err := stream.Send(&streaming.CountReply{Number: n}); err != nil {
			return err
		}
	}
	return nil
}

func (streamer) Sum(
	_ context.Context, stream *connect.ClientStream[streaming.Number],
) (*connect.Response[streaming.SumReply], error) {
	var reply streaming.SumReply
	for stream.Receive() {
		reply.Total += stream.Msg().GetValue()
		reply.Count++
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	return connect.NewResponse(&reply), nil
}

func (streamer) Shout(_ context.Context, stream *connect.BidiStream[streaming.Words, streaming.Words]) error {
	for {
		words, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&streaming.Words{Text: strings.ToUpper(words.GetText())}); err != nil {
			return err
		}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve HTTP on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.Handle(helloworldconnect.NewHelloworldHandler(greeter{}))
	mux.Handle(streamingconnect.NewStreamerHandler(streamer{}))
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("cannot listen on %s: %v", *listen, err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	server := &http.Server{Handler: mux, Protocols: protocols}
	fmt.Printf("listening on %s\n", listener.Addr())
	log.Fatal(server.Serve(listener))
}

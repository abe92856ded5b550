// Command grpc-go-server serves helloworld.Helloworld and streaming.Streamer with grpc-go
// and its default settings, as users run it: the benchmarks compare micro's server with it
// and run their clients against it.
//
//	grpc-go-server -listen 127.0.0.1:0
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
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/micro-rs/micro-rs/peers/bench/helloworld"
	"github.com/micro-rs/micro-rs/peers/bench/streaming"
)

type greeter struct {
	helloworld.UnimplementedHelloworldServer
}

func (greeter) Greeting(_ context.Context, req *helloworld.Request) (*helloworld.Response, error) {
	return &helloworld.Response{Message: "Hello " + req.GetName()}, nil
}

type streamer struct {
	streaming.UnimplementedStreamerServer
}

func (streamer) Ping(_ context.Context, req *streaming.PingRequest) (*streaming.PingReply, error) {
	return &streaming.PingReply{Text: req.GetText()}, nil
}

func (streamer) Count(req *streaming.CountRequest, stream grpc.ServerStreamingServer[streaming.CountReply]) error {
	interval := time.Duration(req.GetIntervalMs()) * time.Millisecond
	for n := uint32(1); n <= req.GetTo(); n++ {
		if n > 1 && interval > 0 {
			select {
			case <-time.After(interval):
			case <-stream.Context().Done():
				return status.FromContextError(stream.Context().Err()).Err()
			}
		}
		if err := stream.Send(&streaming.CountReply{Number: n}); err != nil {
			return err
		}
	}
	return nil
}

func (streamer) Sum(stream grpc.ClientStreamingServer[streaming.Number, streaming.SumReply]) error {
	var reply streaming.SumReply
	for {
		number, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&reply)
		}
		if err != nil {
			return err
		}
		reply.Total += number.GetValue()
		reply.Count++
	}
}

func (streamer) Shout(stream grpc.BidiStreamingServer[streaming.Words, streaming.Words]) error {
	for {
		words, err := stream.Recv()
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
	listen := flag.String("listen", "127.0.0.1:0", "address to serve gRPC on")
	flag.Parse()
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("cannot listen on %s: %v", *listen, err)
	}
	server := grpc.NewServer()
	helloworld.RegisterHelloworldServer(server, greeter{})
	streaming.RegisterStreamerServer(server, streamer{})
	fmt.Printf("listening on %s\n", listener.Addr())
	if err := server.Serve(listener); err != nil {
		log.Fatal(err)
	}
}

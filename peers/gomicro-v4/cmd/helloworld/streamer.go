package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/micro-rs/micro-rs/peers/gomicro-v4/streaming"
	"go-micro.dev/v4/server"
)

// Streamer serves streaming.Streamer (proto/streaming.proto) as peers/bench's grpc-go-server
// does, for the loadgens' streaming RPCs. It is registered under its type name, so its
// endpoints are Streamer.Ping, Streamer.Count, Streamer.Sum and Streamer.Shout (gRPC paths
// /streaming.Streamer/…: go-micro's gRPC server ignores the package). The streaming ones take
// go-micro's server.Stream, as the handlers protoc-gen-micro generates do.
type Streamer struct{}

// Ping answers with the same text.
func (s *Streamer) Ping(ctx context.Context, req *streaming.PingRequest, rsp *streaming.PingReply) error {
	rsp.Text = req.Text
	return nil
}

// Count receives a CountRequest and sends 1..to, pausing interval_ms between numbers.
func (s *Streamer) Count(ctx context.Context, stream server.Stream) error {
	req := &streaming.CountRequest{}
	if err := stream.Recv(req); err != nil {
		return err
	}
	interval := time.Duration(req.IntervalMs) * time.Millisecond
	for n := uint32(1); n <= req.To; n++ {
		if n > 1 && interval > 0 {
			select {
			case <-time.After(interval):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := stream.Send(&streaming.CountReply{Number: n}); err != nil {
			return err
		}
	}
	return nil
}

// Sum adds up every Number received and answers with the total and count.
func (s *Streamer) Sum(ctx context.Context, stream server.Stream) error {
	reply := &streaming.SumReply{}
	for {
		number := &streaming.Number{}
		err := stream.Recv(number)
		if errors.Is(err, io.EOF) {
			return stream.Send(reply)
		}
		if err != nil {
			return err
		}
		reply.Total += number.Value
		reply.Count++
	}
}

// Shout answers every Words as it arrives, upper-cased.
func (s *Streamer) Shout(ctx context.Context, stream server.Stream) error {
	for {
		words := &streaming.Words{}
		err := stream.Recv(words)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&streaming.Words{Text: strings.ToUpper(words.Text)}); err != nil {
			return err
		}
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// Sizes from the interop spec.
const (
	largeRequestSize  = 271828
	largeResponseSize = 314159
)

// cases maps each test case name to its procedure.
var cases = map[string]func(context.Context, testgrpc.TestServiceClient) error{
	"client_compressed_unary":     clientCompressedUnary,
	"server_compressed_unary":     serverCompressedUnary,
	"client_compressed_streaming": clientCompressedStreaming,
	"server_compressed_streaming": serverCompressedStreaming,
}

func caseNames() []string {
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// clientMain runs one test case against --server_host:--server_port.
func clientMain(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	host := fs.String("server_host", "127.0.0.1", "server host")
	port := fs.Int("server_port", 10000, "server port")
	testCase := fs.String("test_case", "", fmt.Sprintf("one of %v", caseNames()))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	run, ok := cases[*testCase]
	if !ok {
		return fmt.Errorf("unknown --test_case %q; want one of %v", *testCase, caseNames())
	}
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(payloadTracker{}))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, testgrpc.NewTestServiceClient(conn)); err != nil {
		return fmt.Errorf("FAIL %s against %s: %w", *testCase, addr, err)
	}
	fmt.Printf("PASS %s\n", *testCase)
	return nil
}

// largeRequest is large_unary's request with expect_compressed set.
func largeRequest(expectCompressed bool) *testpb.SimpleRequest {
	return &testpb.SimpleRequest{
		ExpectCompressed: boolValue(expectCompressed),
		ResponseSize:     largeResponseSize,
		Payload:          zeros(largeRequestSize),
	}
}

func clientCompressedUnary(ctx context.Context, tc testgrpc.TestServiceClient) error {
	_, err := tc.UnaryCall(ctx, largeRequest(true))
	if status.Code(err) != codes.InvalidArgument {
		return fmt.Errorf("probe: uncompressed request with expect_compressed=true: want INVALID_ARGUMENT, got %v", statusString(err))
	}
	for _, compressed := range []bool{true, false} {
		var opts []grpc.CallOption
		if compressed {
			opts = append(opts, grpc.UseCompressor("gzip"))
		}
		callCtx, log := withPayloadLog(ctx)
		resp, err := tc.UnaryCall(callCtx, largeRequest(compressed), opts...)
		if err != nil {
			return fmt.Errorf("request compressed=%t: %v", compressed, statusString(err))
		}
		if err := checkFlags("request", sent(log), []bool{compressed}); err != nil {
			return err
		}
		if err := checkPayload(resp.GetPayload(), largeResponseSize); err != nil {
			return fmt.Errorf("request compressed=%t: %w", compressed, err)
		}
	}
	return nil
}

func serverCompressedUnary(ctx context.Context, tc testgrpc.TestServiceClient) error {
	for _, compressed := range []bool{true, false} {
		req := &testpb.SimpleRequest{
			ResponseCompressed: boolValue(compressed),
			ResponseSize:       largeResponseSize,
			Payload:            zeros(largeRequestSize),
		}
		callCtx, log := withPayloadLog(ctx)
		resp, err := tc.UnaryCall(callCtx, req)
		if err != nil {
			return fmt.Errorf("response_compressed=%t: %v", compressed, statusString(err))
		}
		if err := checkFlags("response", received(log), []bool{compressed}); err != nil {
			return err
		}
		if err := checkPayload(resp.GetPayload(), largeResponseSize); err != nil {
			return fmt.Errorf("response_compressed=%t: %w", compressed, err)
		}
	}
	return nil
}

func clientCompressedStreaming(ctx context.Context, tc testgrpc.TestServiceClient) error {
	first := &testpb.StreamingInputCallRequest{ExpectCompressed: boolValue(true), Payload: zeros(27182)}
	second := &testpb.StreamingInputCallRequest{ExpectCompressed: boolValue(false), Payload: zeros(45904)}

	probe, err := tc.StreamingInputCall(ctx)
	if err != nil {
		return fmt.Errorf("probe: start: %v", statusString(err))
	}
	// grpc-go compresses every message of a stream; a PreparedMsg encoded
	// against this uncompressed stream is sent uncompressed on any stream.
	plain := &grpc.PreparedMsg{}
	if err := plain.Encode(probe, second); err != nil {
		return fmt.Errorf("encode the uncompressed message: %w", err)
	}
	if err := sendAndClose(probe, nil, first); status.Code(err) != codes.InvalidArgument {
		return fmt.Errorf("probe: uncompressed message with expect_compressed=true: want INVALID_ARGUMENT, got %v", statusString(err))
	}

	callCtx, log := withPayloadLog(ctx)
	stream, err := tc.StreamingInputCall(callCtx, grpc.UseCompressor("gzip"))
	if err != nil {
		return fmt.Errorf("start: %v", statusString(err))
	}
	resp := &testpb.StreamingInputCallResponse{}
	if err := sendAndClose(stream, resp, first, plain); err != nil {
		return fmt.Errorf("compressed then uncompressed message: %v", statusString(err))
	}
	if err := checkFlags("request", sent(log), []bool{true, false}); err != nil {
		return err
	}
	if got := resp.GetAggregatedPayloadSize(); got != 27182+45904 {
		return fmt.Errorf("aggregated_payload_size %d, want %d", got, 27182+45904)
	}
	return nil
}

func serverCompressedStreaming(ctx context.Context, tc testgrpc.TestServiceClient) error {
	sizes, flags := []int{31415, 92653}, []bool{true, false}
	req := &testpb.StreamingOutputCallRequest{}
	for i, size := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{
			Size: int32(size), Compressed: boolValue(flags[i]),
		})
	}
	callCtx, log := withPayloadLog(ctx)
	stream, err := tc.StreamingOutputCall(callCtx, req)
	if err != nil {
		return fmt.Errorf("start: %v", statusString(err))
	}
	var got []*testpb.StreamingOutputCallResponse
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("after %d responses: %v", len(got), statusString(err))
		}
		got = append(got, resp)
	}
	if len(got) != len(sizes) {
		return fmt.Errorf("got %d responses, want %d", len(got), len(sizes))
	}
	for i, resp := range got {
		if err := checkPayload(resp.GetPayload(), sizes[i]); err != nil {
			return fmt.Errorf("response %d: %w", i, err)
		}
	}
	return checkFlags("response", received(log), flags)
}

// sendAndClose sends msgs, half-closes and receives the response into out
// (discarded when nil). A send that fails because the server has already
// answered is reported by the receive.
func sendAndClose(stream grpc.ClientStream, out *testpb.StreamingInputCallResponse, msgs ...any) error {
	if out == nil {
		out = &testpb.StreamingInputCallResponse{}
	}
	for _, m := range msgs {
		if err := stream.SendMsg(m); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	return stream.RecvMsg(out)
}

func boolValue(v bool) *testpb.BoolValue { return &testpb.BoolValue{Value: v} }

func zeros(n int) *testpb.Payload {
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

// checkPayload checks that p is size zero bytes.
func checkPayload(p *testpb.Payload, size int) error {
	if got := len(p.GetBody()); got != size {
		return fmt.Errorf("payload is %d bytes, want %d", got, size)
	}
	for _, b := range p.GetBody() {
		if b != 0 {
			return errors.New("payload body is not all zeros")
		}
	}
	return nil
}

// checkFlags compares the compressed flags of the messages of one direction.
func checkFlags(what string, got, want []bool) error {
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s messages had compressed flags %v, want %v", what, got, want)
	}
	return nil
}

func sent(l *payloadLog) []bool     { _, out := l.snapshot(); return out }
func received(l *payloadLog) []bool { in, _ := l.snapshot(); return in }

// statusString renders err as "CODE: message".
func statusString(err error) string {
	if err == nil {
		return "OK"
	}
	s := status.Convert(err)
	return fmt.Sprintf("%v: %s", s.Code(), s.Message())
}

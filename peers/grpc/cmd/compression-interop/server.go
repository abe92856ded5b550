package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
	_ "unsafe" // go:linkname, see orcaAllowAnyMinReportingInterval

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/orca"
	"google.golang.org/grpc/status"
)

// orcaAllowAnyMinReportingInterval is grpc-go's internal hook that its interop
// server calls to lift ORCA's 30 s minimum report interval; orca_oob waits at
// most 30 s for a report, so without it that case cannot pass.
//
//go:linkname orcaAllowAnyMinReportingInterval google.golang.org/grpc/internal.ORCAAllowAnyMinReportingInterval
var orcaAllowAnyMinReportingInterval any

// serverMain serves TestService on 127.0.0.1:--port until the process ends.
func serverMain(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	port := fs.Int("port", 10000, "port to listen on (0 picks a free one)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%d: %w", *port, err)
	}
	server := newServer()
	fmt.Printf("listening on %s\n", lis.Addr())
	return server.Serve(lis)
}

// newServer builds the server as grpc-go's interop server does (TestService
// plus ORCA), with compressionServer in front of its TestService.
func newServer() *grpc.Server {
	server := grpc.NewServer(orca.CallMetricsServerOption(nil), grpc.StatsHandler(payloadTracker{}))
	recorder := orca.NewServerMetricsRecorder()
	opts := orca.ServiceOptions{MinReportingInterval: time.Second, ServerMetricsProvider: recorder}
	if allow, ok := orcaAllowAnyMinReportingInterval.(func(*orca.ServiceOptions)); ok {
		allow(&opts)
	}
	orca.Register(server, opts)
	inner := interop.NewTestServer(interop.NewTestServerOptions{MetricsRecorder: recorder})
	testgrpc.RegisterTestServiceServer(server, compressionServer{inner})
	return server
}

// compressionServer adds the CompressedRequest and CompressedResponse
// features to grpc-go's interop TestService.
type compressionServer struct {
	testgrpc.TestServiceServer
}

func (s compressionServer) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := checkRequestCompression(ctx, in.GetExpectCompressed()); err != nil {
		return nil, err
	}
	if want := in.GetResponseCompressed(); want != nil {
		if err := setResponseCompression(ctx, want.GetValue()); err != nil {
			return nil, err
		}
	}
	return s.TestServiceServer.UnaryCall(ctx, in)
}

func (s compressionServer) StreamingInputCall(stream testgrpc.TestService_StreamingInputCallServer) error {
	sum := 0
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		if err := checkRequestCompression(stream.Context(), in.GetExpectCompressed()); err != nil {
			return err
		}
		sum += len(in.GetPayload().GetBody())
	}
}

func (s compressionServer) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	params := in.GetResponseParameters()
	anyOn, anyOff := compressionWanted(params)
	if anyOn || anyOff {
		if err := setResponseCompression(stream.Context(), anyOn); err != nil {
			return err
		}
	}
	for _, p := range params {
		if us := p.GetIntervalUs(); us > 0 {
			time.Sleep(time.Duration(us) * time.Microsecond)
		}
		resp, err := outputResponse(in.GetResponseType(), p.GetSize())
		if err != nil {
			return err
		}
		if anyOn && p.GetCompressed() != nil && !p.GetCompressed().GetValue() {
			err = sendUncompressed(stream, resp)
		} else {
			err = stream.Send(resp)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// compressionWanted reports whether any response asks to be compressed and
// whether any explicitly asks not to be.
func compressionWanted(params []*testpb.ResponseParameters) (anyOn, anyOff bool) {
	for _, p := range params {
		if c := p.GetCompressed(); c != nil {
			anyOn = anyOn || c.GetValue()
			anyOff = anyOff || !c.GetValue()
		}
	}
	return anyOn, anyOff
}

// checkRequestCompression fails with INVALID_ARGUMENT when the message just
// received was (not) compressed against the request's expect_compressed.
func checkRequestCompression(ctx context.Context, expect *testpb.BoolValue) error {
	if expect == nil {
		return nil
	}
	log := payloadLogFrom(ctx)
	if log == nil {
		return status.Error(codes.Internal, "compression-interop: no payload log on this RPC")
	}
	got, ok := log.lastIn()
	if !ok {
		return status.Error(codes.Internal, "compression-interop: no received message recorded")
	}
	if got != expect.GetValue() {
		return status.Errorf(codes.InvalidArgument,
			"expect_compressed is %t but the request message was sent with compressed flag %t", expect.GetValue(), got)
	}
	return nil
}

// setResponseCompression makes the responses gzip-compressed or uncompressed.
func setResponseCompression(ctx context.Context, compressed bool) error {
	name := encoding.Identity
	if compressed {
		name = "gzip"
	}
	if err := grpc.SetSendCompressor(ctx, name); err != nil {
		return status.Errorf(codes.InvalidArgument, "cannot send %s responses: %v", name, err)
	}
	return nil
}

// sendUncompressed sends resp with the compressed flag unset on a stream whose
// responses are gzip-compressed. grpc-go has no per-message switch, but a
// PreparedMsg keeps the compression of the stream context it was encoded
// against: the request's, which is none unless the client compressed it.
func sendUncompressed(stream grpc.ServerStream, resp *testpb.StreamingOutputCallResponse) error {
	if log := payloadLogFrom(stream.Context()); log == nil || log.requestCompressed() {
		return status.Error(codes.Unimplemented,
			"compression-interop: cannot send an uncompressed response on a stream whose request was compressed")
	}
	msg := &grpc.PreparedMsg{}
	if err := msg.Encode(stream, resp); err != nil {
		return err
	}
	return stream.SendMsg(msg)
}

// outputResponse builds a response whose payload is size zero bytes, as
// grpc-go's interop server does.
func outputResponse(t testpb.PayloadType, size int32) (*testpb.StreamingOutputCallResponse, error) {
	if t != testpb.PayloadType_COMPRESSABLE {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported payload type %v", t)
	}
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "invalid response size %d", size)
	}
	return &testpb.StreamingOutputCallResponse{
		Payload: &testpb.Payload{Type: t, Body: make([]byte, size)},
	}, nil
}

package main

import (
	"context"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/stats"
)

// payloadLog records, per RPC and in order, whether each message on the wire
// had its compressed flag set, as grpc-go's stats callbacks report it.
type payloadLog struct {
	mu         sync.Mutex
	in, out    []bool
	inEncoding string // grpc-encoding of the received headers
}

type payloadLogKey struct{}

// withPayloadLog returns ctx carrying a fresh log and the log.
func withPayloadLog(ctx context.Context) (context.Context, *payloadLog) {
	log := &payloadLog{}
	return context.WithValue(ctx, payloadLogKey{}, log), log
}

// payloadLogFrom returns the log in ctx, or nil.
func payloadLogFrom(ctx context.Context) *payloadLog {
	log, _ := ctx.Value(payloadLogKey{}).(*payloadLog)
	return log
}

// lastIn reports whether the most recent received message was compressed.
func (l *payloadLog) lastIn() (compressed, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.in) == 0 {
		return false, false
	}
	return l.in[len(l.in)-1], true
}

// snapshot copies the flags received and sent so far.
func (l *payloadLog) snapshot() (in, out []bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.in...), append([]bool(nil), l.out...)
}

// requestCompressed reports whether the peer's headers named a compressor.
func (l *payloadLog) requestCompressed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inEncoding != "" && l.inEncoding != encoding.Identity
}

// payloadTracker is a stats.Handler that fills the payloadLog in each RPC's
// context. Servers get a log per RPC from TagRPC; clients put one in the call
// context with withPayloadLog. grpc-go reports CompressedLength == Length
// exactly when a message went out or came in without the compressed flag.
type payloadTracker struct{}

func (payloadTracker) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	if payloadLogFrom(ctx) != nil {
		return ctx
	}
	ctx, _ = withPayloadLog(ctx)
	return ctx
}

func (payloadTracker) HandleRPC(ctx context.Context, s stats.RPCStats) {
	log := payloadLogFrom(ctx)
	if log == nil {
		return
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	switch s := s.(type) {
	case *stats.InHeader:
		log.inEncoding = s.Compression
	case *stats.InPayload:
		log.in = append(log.in, s.CompressedLength != s.Length)
	case *stats.OutPayload:
		log.out = append(log.out, s.CompressedLength != s.Length)
	}
}

func (payloadTracker) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (payloadTracker) HandleConn(context.Context, stats.ConnStats) {}

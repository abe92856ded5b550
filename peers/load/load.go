// Package load is the part of the peers' load generators that does not depend on the client
// under test: bench's loadgen (grpc-go, connect-go), gomicro5-loadgen and gomicro4-loadgen
// drive callers through [Run] and [Measure], and gomicro5-brokerbench and
// gomicro4-brokerbench publish through [Tally]. Each command keeps its own flags and its
// framework's calls; this package has the concurrent callers loop and warm-up, the
// latency percentiles, the process's CPU time (getrusage) and the one JSON line each
// command prints on stdout.
//
// Any failure ends the process (see [Fail]): the benchmarks count nothing as a failure and
// carry on.
package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// What every caller sends and expects back.
const (
	// Name is the name sent to Helloworld.Greeting and the text sent to Streamer.Shout.
	Name = "bench"
	// Greeting is Helloworld.Greeting's answer to Name.
	Greeting = "Hello bench"
	// Shouted is Streamer.Shout's answer to Name.
	Shouted = "BENCH"
)

// Caller is one connection's worth of client (a grpc-go ClientConn, a connect-go
// http.Client, a go-micro client), making the three kinds of call the benchmark times.
type Caller interface {
	// Greet calls Helloworld.Greeting{Name} once and checks the answer is Greeting.
	Greet(ctx context.Context) error
	// Count calls Streamer.Count{to} and checks it receives 1..to.
	Count(ctx context.Context, to uint32) error
	// Shout opens a Streamer.Shout stream.
	Shout(ctx context.Context) (ShoutStream, error)
}

// ShoutStream is one open Streamer.Shout stream.
type ShoutStream interface {
	// RoundTrip sends Name and checks the next message is Shouted.
	RoundTrip() error
	// Close ends the stream (as far as the client can, checking the server ends it cleanly).
	Close() error
}

// Program prefixes Fail's messages; a command sets it before anything can fail.
var Program = "loadgen"

// Fail prints "Program: " and the message on stderr and exits 1.
func Fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, Program+": "+format+"\n", args...)
	os.Exit(1)
}

// Config is the load: -rpc (unary, server-stream or bidi), -concurrency callers, -messages
// per server-stream call, and the callers' clients, caller i using Callers[i%len(Callers)].
type Config struct {
	RPC         string
	Concurrency int
	Messages    int
	Callers     []Caller
}

// Run makes total requests (unary) or messages (streams) with cfg.Concurrency callers and
// returns every latency recorded, how long it took and the CPU time it used. Any failure
// ends the process.
//
// unary: total Greet calls, each timed. server-stream: Count calls of cfg.Messages, the last
// one shorter if cfg.Messages does not divide total, each call timed as a whole. bidi: every
// caller opens one Shout stream and makes its share of the total round trips, each timed;
// opening and closing the stream are in the measured time.
func Run(ctx context.Context, cfg Config, total int) ([]time.Duration, time.Duration, time.Duration) {
	callers := cfg.Concurrency
	var calls int // how many calls there are to claim (unary, server-stream)
	switch cfg.RPC {
	case "unary":
		calls = total
	case "server-stream":
		calls = (total + cfg.Messages - 1) / cfg.Messages
	}
	var claimed atomic.Int64
	latencies := make([][]time.Duration, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		c := cfg.Callers[i%len(cfg.Callers)]
		// This caller's share of the bidi messages, or a first guess at its share of calls.
		share := total / callers
		if i < total%callers {
			share++
		}
		if cfg.RPC == "server-stream" {
			share = calls/callers + 1
		}
		own := make([]time.Duration, 0, share)
		wg.Go(func() {
			defer func() { latencies[i] = own }()
			<-start
			switch cfg.RPC {
			case "unary":
				for claimed.Add(1) <= int64(calls) {
					began := time.Now()
					if err := c.Greet(ctx); err != nil {
						Fail("unary Greeting: %v", err)
					}
					own = append(own, time.Since(began))
				}
			case "server-stream":
				for {
					call := int(claimed.Add(1))
					if call > calls {
						break
					}
					to := cfg.Messages
					if call == calls {
						to = total - (calls-1)*cfg.Messages
					}
					began := time.Now()
					if err := c.Count(ctx, uint32(to)); err != nil {
						Fail("server-stream Count: %v", err)
					}
					own = append(own, time.Since(began))
				}
			case "bidi":
				if share == 0 {
					return
				}
				stream, err := c.Shout(ctx)
				if err != nil {
					Fail("bidi Shout: %v", err)
				}
				for range share {
					began := time.Now()
					if err := stream.RoundTrip(); err != nil {
						Fail("bidi %v", err)
					}
					own = append(own, time.Since(began))
				}
				if err := stream.Close(); err != nil {
					Fail("bidi %v", err)
				}
			}
		})
	}
	cpuBefore := CPUTime()
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	cpu := CPUTime() - cpuBefore
	return slices.Concat(latencies...), elapsed, cpu
}

// Result is the loadgen commands' JSON line: requests is calls (unary) or messages
// (streams), per_second is requests/seconds, p50_us and p99_us are latency percentiles
// (nearest rank) in microseconds, and cpu_seconds is the process's user+system CPU time
// during the measured part.
type Result struct {
	Requests   int     `json:"requests"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

// Measure runs warmup requests (if any) unmeasured, then requests measured, and sums them up.
func Measure(ctx context.Context, cfg Config, warmup, requests int) Result {
	if warmup > 0 {
		Run(ctx, cfg, warmup)
	}
	latencies, elapsed, cpu := Run(ctx, cfg, requests)
	slices.Sort(latencies)
	seconds := elapsed.Seconds()
	return Result{
		Requests:   requests,
		Seconds:    math.Round(seconds*1e6) / 1e6,
		PerSecond:  round(float64(requests) / seconds),
		P50us:      Percentile(latencies, 50),
		P99us:      Percentile(latencies, 99),
		CPUSeconds: math.Round(cpu.Seconds()*1e3) / 1e3,
	}
}

// CPUTime is this process's user+system CPU time so far (getrusage).
func CPUTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		Fail("getrusage: %v", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// Percentile is the nearest-rank percentile p (0-100) of sorted, in microseconds rounded to
// one decimal.
func Percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return round(float64(sorted[rank-1]) / float64(time.Microsecond))
}

func round(x float64) float64 { return math.Round(x*10) / 10 }

// Print prints v as one JSON line on stdout.
func Print(v any) {
	out, err := json.Marshal(v)
	if err != nil {
		Fail("%v", err)
	}
	fmt.Println(string(out))
}

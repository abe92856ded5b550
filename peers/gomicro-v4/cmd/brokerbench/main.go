// Command gomicro4-brokerbench measures go-micro v4's HTTP broker (broker.NewBroker, its
// default) the way benches/src/messaging.rs measures micro's: publish → handled, in one
// process.
//
//	gomicro4-brokerbench -messages 20000 -publishers 16 -payload 256
//
// One broker on 127.0.0.1 with go-micro's in-process memory registry subscribes a handler to
// topic "bench" (no queue: go-micro's broadcast subscription), then -publishers goroutines
// publish -messages/-publishers messages each (the remainder is dropped, as messaging.rs
// does), each message a body of -payload bytes, the first 4 of them its number (big-endian)
// so the handler can tell which messages it got. Publish posts the message to the
// subscriber's HTTP endpoint (its own, here) with go-micro's HTTP client, as any go-micro
// publisher would.
//
// Each publisher publishes its next message once the handler has handled the previous one,
// so that -publishers messages at most are in flight. That is the work micro's HTTP broker
// does in messaging.rs, whose publish returns once the subscriber answered the POST, after
// handling the message. go-micro's Publish returns at once instead: it only queues the message
// in a per-topic inbox of at most 64 (a message published while 64 wait is dropped), and a
// goroutine per Publish posts up to 8 queued messages, pausing 100ms between them when it took
// more than one. With -async the publishers publish as fast as Publish returns, which loses
// most messages to that inbox (at the defaults, a few thousand of 20000 arrive).
//
// It times from the first Publish until the handler has handled the last message, and then
// prints one JSON line on stdout:
//
//	{"messages":N,"seconds":S,"per_second":R,"cpu_seconds":C}
//
// per_second is messages/seconds and cpu_seconds is this process's user+system CPU time over
// the same interval (getrusage): publishers, HTTP client and server, and handler together.
//
// Every message must be handled exactly once. If the handler sees a message twice, a number
// it did not publish, or not every message (a publisher waiting -wait for its message, or
// all of them published and -wait passing), it says on stderr what it got (handled,
// missing, duplicates, when the last delivery came) and exits 1.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go-micro.dev/v4/broker"
	"go-micro.dev/v4/registry"
)

const topic = "bench"

// tally records which messages the handler got.
type tally struct {
	total     int64
	handled   atomic.Int64
	seen      []atomic.Bool
	dups      atomic.Int64
	strangers atomic.Int64
	done      chan struct{}
	finished  atomic.Int64 // UnixNano when the last one was handled
	last      atomic.Int64 // UnixNano of the latest delivery
	// notify[p] hears of each of publisher p's messages handled (unless -async).
	perPublisher int64
	notify       []chan struct{}
}

func (t *tally) handle(e broker.Event) error {
	body := e.Message().Body
	if len(body) < 4 {
		t.strangers.Add(1)
		return nil
	}
	n := int64(binary.BigEndian.Uint32(body))
	t.last.Store(time.Now().UnixNano())
	switch {
	case n >= t.total:
		t.strangers.Add(1)
	case t.seen[n].Swap(true):
		t.dups.Add(1)
	default:
		if t.notify != nil {
			t.notify[n/t.perPublisher] <- struct{}{}
		}
		if t.handled.Add(1) == t.total {
			t.finished.Store(time.Now().UnixNano())
			close(t.done)
		}
	}
	return nil
}

// report says what the handler got by now and exits 1.
func (t *tally) report(began time.Time, published time.Duration, why string) {
	handled := t.handled.Load()
	last := "none"
	if l := t.last.Load(); l != 0 {
		last = time.Duration(l - began.UnixNano()).Round(time.Millisecond).String()
	}
	fail("handled %d distinct of %d messages (%d missing, %d duplicates, %d unknown): "+
		"publishing took %v, the last delivery came %v after the first Publish, then %s",
		handled, t.total, t.total-handled, t.dups.Load(), t.strangers.Load(),
		published.Round(time.Millisecond), last, why)
}

func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		fail("getrusage: %v", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "brokerbench: "+format+"\n", args...)
	os.Exit(1)
}

type result struct {
	Messages   int64   `json:"messages"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

func main() {
	messages := flag.Int("messages", 20000, "messages to publish (rounded down to a multiple of -publishers)")
	publishers := flag.Int("publishers", 16, "concurrent publishers, each publishing one message at a time")
	payload := flag.Int("payload", 256, "message body size in bytes (at least 4)")
	wait := flag.Duration("wait", 2*time.Minute, "how long to wait for deliveries after the last Publish returned")
	async := flag.Bool("async", false, "publishers do not wait for their messages to be handled (go-micro's Publish returns at once)")
	flag.Parse()

	switch {
	case flag.NArg() > 0:
		fail("unexpected arguments %q", flag.Args())
	case *publishers < 1 || *messages < *publishers:
		fail("-publishers must be at least 1 and -messages at least -publishers")
	case *payload < 4:
		fail("-payload must be at least 4 (the message number)")
	case *messages > math.MaxUint32:
		fail("-messages too large")
	}
	perPublisher := *messages / *publishers
	total := int64(perPublisher * *publishers)

	b := broker.NewBroker(broker.Registry(registry.NewMemoryRegistry()), broker.Addrs("127.0.0.1:0"))
	if err := b.Connect(); err != nil {
		fail("cannot connect the broker: %v", err)
	}
	t := &tally{total: total, seen: make([]atomic.Bool, total), done: make(chan struct{}),
		perPublisher: int64(perPublisher)}
	if !*async {
		t.notify = make([]chan struct{}, *publishers)
		for p := range t.notify {
			t.notify[p] = make(chan struct{}, 1)
		}
	}
	sub, err := b.Subscribe(topic, t.handle)
	if err != nil {
		fail("cannot subscribe: %v", err)
	}

	start := make(chan struct{})
	var began time.Time
	var wg sync.WaitGroup
	for p := range *publishers {
		wg.Go(func() {
			<-start
			for i := range perPublisher {
				body := make([]byte, *payload)
				for j := 4; j < len(body); j++ {
					body[j] = 'x'
				}
				binary.BigEndian.PutUint32(body, uint32(p*perPublisher+i))
				if err := b.Publish(topic, &broker.Message{Header: map[string]string{}, Body: body}); err != nil {
					fail("publish: %v", err)
				}
				if !*async {
					select {
					case <-t.notify[p]:
					case <-time.After(*wait):
						t.report(began, time.Since(began), fmt.Sprintf("publisher %d waited %v for message %d", p, *wait, i))
					}
				}
			}
		})
	}
	cpuBefore := cpuTime()
	began = time.Now()
	close(start)
	wg.Wait()
	published := time.Since(began)
	select {
	case <-t.done:
	case <-time.After(*wait):
		t.report(began, published, fmt.Sprintf("waited %v more", *wait))
	}
	cpu := cpuTime() - cpuBefore
	elapsed := time.Duration(t.finished.Load() - began.UnixNano())
	// Let a duplicate that is on its way arrive before judging.
	time.Sleep(100 * time.Millisecond)
	if d, s := t.dups.Load(), t.strangers.Load(); d > 0 || s > 0 {
		fail("every one of %d messages handled, but also %d duplicates and %d unknown", total, d, s)
	}
	_ = sub.Unsubscribe()
	_ = b.Disconnect()

	seconds := elapsed.Seconds()
	out, err := json.Marshal(result{
		Messages:   total,
		Seconds:    math.Round(seconds*1e6) / 1e6,
		PerSecond:  math.Round(float64(total)/seconds*10) / 10,
		CPUSeconds: math.Round(cpu.Seconds()*1e3) / 1e3,
	})
	if err != nil {
		fail("%v", err)
	}
	fmt.Println(string(out))
}

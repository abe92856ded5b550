package load

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Tally publishes numbered messages from concurrent publishers and records which ones the
// subscriber's handler got, for the brokerbench commands. Each message body is -payload
// bytes, the first 4 of them its number (big-endian).
type Tally struct {
	total     int64
	handled   atomic.Int64
	seen      []atomic.Bool
	dups      atomic.Int64
	strangers atomic.Int64
	done      chan struct{}
	finished  atomic.Int64 // UnixNano when the last one was handled
	last      atomic.Int64 // UnixNano of the latest delivery
	// notify[p] hears of each of publisher p's messages handled (unless async).
	perPublisher int64
	notify       []chan struct{}
}

// NewTally expects perPublisher messages from each of publishers publishers. Unless async,
// each publisher publishes its next message once the handler has handled the previous one.
func NewTally(publishers, perPublisher int, async bool) *Tally {
	total := int64(perPublisher * publishers)
	t := &Tally{total: total, seen: make([]atomic.Bool, total), done: make(chan struct{}),
		perPublisher: int64(perPublisher)}
	if !async {
		t.notify = make([]chan struct{}, publishers)
		for p := range t.notify {
			t.notify[p] = make(chan struct{}, 1)
		}
	}
	return t
}

// Handle records the delivery of a message with this body; the subscriber's handler calls it.
func (t *Tally) Handle(body []byte) {
	if len(body) < 4 {
		t.strangers.Add(1)
		return
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
}

// report says what the handler got by now and exits 1.
func (t *Tally) report(began time.Time, published time.Duration, why string) {
	handled := t.handled.Load()
	last := "none"
	if l := t.last.Load(); l != 0 {
		last = time.Duration(l - began.UnixNano()).Round(time.Millisecond).String()
	}
	Fail("handled %d distinct of %d messages (%d missing, %d duplicates, %d unknown): "+
		"publishing took %v, the last delivery came %v after the first Publish, then %s",
		handled, t.total, t.total-handled, t.dups.Load(), t.strangers.Load(),
		published.Round(time.Millisecond), last, why)
}

// BrokerResult is the brokerbench commands' JSON line: per_second is messages/seconds and
// cpu_seconds is the process's user+system CPU time over the same interval.
type BrokerResult struct {
	Messages   int64   `json:"messages"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

// Publish has every publisher publish its messages of payload bytes with publish, and
// times from the first publish until the handler has handled the last message. Every
// message must be handled exactly once: if the handler sees a message twice, a number
// nobody published, or not every message (a publisher waiting wait for its message, or all
// of them published and wait passing), it says so and ends the process.
func (t *Tally) Publish(payload int, wait time.Duration, publish func(body []byte) error) BrokerResult {
	publishers := int(t.total / t.perPublisher)
	perPublisher := int(t.perPublisher)
	start := make(chan struct{})
	var began time.Time
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			<-start
			for i := range perPublisher {
				body := make([]byte, payload)
				for j := 4; j < len(body); j++ {
					body[j] = 'x'
				}
				binary.BigEndian.PutUint32(body, uint32(p*perPublisher+i))
				if err := publish(body); err != nil {
					Fail("publish: %v", err)
				}
				if t.notify != nil {
					select {
					case <-t.notify[p]:
					case <-time.After(wait):
						t.report(began, time.Since(began), fmt.Sprintf("publisher %d waited %v for message %d", p, wait, i))
					}
				}
			}
		})
	}
	cpuBefore := CPUTime()
	began = time.Now()
	close(start)
	wg.Wait()
	published := time.Since(began)
	select {
	case <-t.done:
	case <-time.After(wait):
		t.report(began, published, fmt.Sprintf("waited %v more", wait))
	}
	cpu := CPUTime() - cpuBefore
	elapsed := time.Duration(t.finished.Load() - began.UnixNano())
	// Let a duplicate that is on its way arrive before judging.
	time.Sleep(100 * time.Millisecond)
	if d, s := t.dups.Load(), t.strangers.Load(); d > 0 || s > 0 {
		Fail("every one of %d messages handled, but also %d duplicates and %d unknown", t.total, d, s)
	}
	seconds := elapsed.Seconds()
	return BrokerResult{
		Messages:   t.total,
		Seconds:    math.Round(seconds*1e6) / 1e6,
		PerSecond:  math.Round(float64(t.total)/seconds*10) / 10,
		CPUSeconds: math.Round(cpu.Seconds()*1e3) / 1e3,
	}
}

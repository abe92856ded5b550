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
	"flag"
	"math"
	"time"

	"github.com/micro-rs/micro-rs/peers/load"
	"go-micro.dev/v4/broker"
	"go-micro.dev/v4/registry"
)

const topic = "bench"

func main() {
	load.Program = "brokerbench"
	messages := flag.Int("messages", 20000, "messages to publish (rounded down to a multiple of -publishers)")
	publishers := flag.Int("publishers", 16, "concurrent publishers, each publishing one message at a time")
	payload := flag.Int("payload", 256, "message body size in bytes (at least 4)")
	wait := flag.Duration("wait", 2*time.Minute, "how long to wait for deliveries after the last Publish returned")
	async := flag.Bool("async", false, "publishers do not wait for their messages to be handled (go-micro's Publish returns at once)")
	flag.Parse()

	switch {
	case flag.NArg() > 0:
		load.Fail("unexpected arguments %q", flag.Args())
	case *publishers < 1 || *messages < *publishers:
		load.Fail("-publishers must be at least 1 and -messages at least -publishers")
	case *payload < 4:
		load.Fail("-payload must be at least 4 (the message number)")
	case *messages > math.MaxUint32:
		load.Fail("-messages too large")
	}
	t := load.NewTally(*publishers, *messages / *publishers, *async)

	b := broker.NewBroker(broker.Registry(registry.NewMemoryRegistry()), broker.Addrs("127.0.0.1:0"))
	if err := b.Connect(); err != nil {
		load.Fail("cannot connect the broker: %v", err)
	}
	sub, err := b.Subscribe(topic, func(e broker.Event) error {
		t.Handle(e.Message().Body)
		return nil
	})
	if err != nil {
		load.Fail("cannot subscribe: %v", err)
	}
	result := t.Publish(*payload, *wait, func(body []byte) error {
		return b.Publish(topic, &broker.Message{Header: map[string]string{}, Body: body})
	})
	_ = sub.Unsubscribe()
	_ = b.Disconnect()
	load.Print(result)
}

// Command gomicro4-events publishes to or consumes from go-micro v4's NATS JetStream events.
//
//	gomicro4-events publish --address nats://… --topic t --payload order --count 3
//	    payloads order-0 … order-2 (bytes, stored as is), with --metadata k=v
//	gomicro4-events consume --address nats://… --topic t --group g --count 3 [--from_start]
//	    prints {"ready":true}, then each event as {"id","topic","payload","metadata"}; acks it
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-micro/plugins/v4/events/natsjs"
	"github.com/micro-rs/micro-rs/peers/gomicro-v4/internal/peer"
	"github.com/nats-io/nats.go"
	"go-micro.dev/v4/events"
)

func main() {
	if len(os.Args) < 2 {
		peer.Fail("usage: gomicro4-events publish|consume [flags]")
	}
	command := os.Args[1]
	flags := flag.NewFlagSet(command, flag.ExitOnError)
	address := flags.String("address", "nats://127.0.0.1:4222", "NATS address")
	topic := flags.String("topic", "orders", "topic (and stream name)")
	payload := flags.String("payload", "order", "payload prefix (publish)")
	group := flags.String("group", "", "consumer group (consume)")
	fromStart := flags.Bool("from_start", false, "consume from the stream's start instead of new events")
	count := flags.Int("count", 1, "events to publish or to consume")
	timeout := flags.Duration("timeout", 20*time.Second, "how long consume waits for its events")
	md := peer.Pairs{}
	flags.Var(md, "metadata", "key=value metadata (publish, repeatable)")
	_ = flags.Parse(os.Args[2:])

	stream, err := natsjs.NewStream(natsjs.Address(*address))
	if err != nil {
		peer.Fail("cannot connect to NATS: %v", err)
	}
	switch command {
	case "publish":
		stored := storedEvents(*address, *topic)
		for i := 0; i < *count; i++ {
			body := []byte(fmt.Sprintf("%s-%d", *payload, i))
			if err := stream.Publish(*topic, body, events.WithMetadata(md)); err != nil {
				peer.Fail("cannot publish: %v", err)
			}
		}
		waitStored(*address, *topic, stored+uint64(*count))
		peer.Print(map[string]int{"published": *count})
	case "consume":
		options := []events.ConsumeOption{events.WithAutoAck(false, 30*time.Second)}
		if *group != "" {
			options = append(options, events.WithGroup(*group))
		}
		if *fromStart {
			options = append(options, events.WithOffset(time.Unix(1, 0)))
		}
		ch, err := stream.Consume(*topic, options...)
		if err != nil {
			peer.Fail("cannot consume: %v", err)
		}
		peer.Print(map[string]bool{"ready": true})
		deadline := time.After(*timeout)
		for i := 0; i < *count; i++ {
			select {
			case e := <-ch:
				peer.Print(map[string]interface{}{
					"id": e.ID, "topic": e.Topic, "payload": string(e.Payload), "metadata": e.Metadata,
				})
				_ = e.Ack()
			case <-deadline:
				peer.Fail("got %d of %d events in %v", i, *count, *timeout)
			}
		}
	default:
		peer.Fail("unknown command %q: use publish or consume", command)
	}
}

// storedEvents is how many events the topic's stream holds (0 before it exists).
func storedEvents(address, topic string) uint64 {
	conn, err := nats.Connect(address)
	if err != nil {
		peer.Fail("cannot connect to NATS: %v", err)
	}
	defer conn.Close()
	js, err := conn.JetStream()
	if err != nil {
		peer.Fail("no JetStream: %v", err)
	}
	info, err := js.StreamInfo(topic)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// waitStored waits until the stream holds want events: v4's natsjs publishes asynchronously
// and has no option to wait, so exiting right after Publish could drop them.
func waitStored(address, topic string, want uint64) {
	deadline := time.Now().Add(10 * time.Second)
	for storedEvents(address, topic) < want {
		if time.Now().After(deadline) {
			peer.Fail("the stream %q did not store the events within 10s", topic)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

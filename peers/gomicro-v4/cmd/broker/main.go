// Command gomicro4-broker publishes to or subscribes on go-micro v4's HTTP broker.
//
//	gomicro4-broker publish --topic t --body hello --count 3    bodies hello-0 … hello-2;
//	    prints {"published":3}, then stays --linger (go-micro's HTTP broker delivers in the
//	    background after Publish returns, so exiting at once would drop the messages)
//	gomicro4-broker subscribe --topic t [--queue q] --count 3  prints {"ready":true} once
//	    subscribed, then each message as {"header":{…},"body":"…"}, and exits after count
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/micro-rs/micro-rs/peers/gomicro-v4/internal/peer"
	"go-micro.dev/v4/broker"
)

func main() {
	if len(os.Args) < 2 {
		peer.Fail("usage: gomicro4-broker publish|subscribe [flags]")
	}
	command := os.Args[1]
	flags := flag.NewFlagSet(command, flag.ExitOnError)
	reg := flags.String("registry", "mdns", "mdns or etcd")
	regAddress := flags.String("registry_address", "", "etcd address")
	topic := flags.String("topic", "signups", "topic")
	queue := flags.String("queue", "", "queue group (subscribe)")
	body := flags.String("body", "hello", "body prefix (publish)")
	count := flags.Int("count", 1, "messages to publish or to receive (0: receive until --timeout)")
	timeout := flags.Duration("timeout", 20*time.Second, "how long subscribe waits for its messages")
	linger := flags.Duration("linger", 2*time.Second, "how long publish stays for deliveries (until SIGTERM)")
	header := peer.Pairs{}
	flags.Var(header, "header", "key=value header (publish, repeatable)")
	_ = flags.Parse(os.Args[2:])

	r := peer.Registry(*reg, *regAddress)
	b := broker.NewBroker(broker.Registry(r), broker.Addrs("127.0.0.1:0"))
	if err := b.Connect(); err != nil {
		peer.Fail("cannot connect the broker: %v", err)
	}
	defer b.Disconnect()
	switch command {
	case "publish":
		for i := 0; i < *count; i++ {
			message := &broker.Message{Header: map[string]string{}, Body: []byte(fmt.Sprintf("%s-%d", *body, i))}
			for k, v := range header {
				message.Header[k] = v
			}
			if err := b.Publish(*topic, message); err != nil {
				peer.Fail("cannot publish: %v", err)
			}
		}
		peer.Print(map[string]int{"published": *count})
		peer.WaitForSignalOr(*linger)
	case "subscribe":
		received := make(chan *broker.Message, 1024)
		handler := func(e broker.Event) error {
			received <- e.Message()
			return nil
		}
		var options []broker.SubscribeOption
		if *queue != "" {
			options = append(options, broker.Queue(*queue))
		}
		sub, err := b.Subscribe(*topic, handler, options...)
		if err != nil {
			peer.Fail("cannot subscribe: %v", err)
		}
		peer.Print(map[string]bool{"ready": true})
		deadline := time.After(*timeout)
		for i := 0; *count == 0 || i < *count; i++ {
			select {
			case m := <-received:
				peer.Print(map[string]interface{}{"header": m.Header, "body": string(m.Body)})
			case <-deadline:
				_ = sub.Unsubscribe()
				if *count == 0 {
					return
				}
				peer.Fail("got %d of %d messages in %v", i, *count, *timeout)
			}
		}
		_ = sub.Unsubscribe()
	default:
		peer.Fail("unknown command %q: use publish or subscribe", command)
	}
}

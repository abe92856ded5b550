// Command gomicro4-call finds a service in the registry and calls its Helloworld.Greeting
// endpoint once with go-micro v4's client: the rpc (mucp) client by default, the gRPC client
// with --client grpc. It prints the reply as {"message":…}, or the go-micro error JSON
// ({"id","code","detail","status"}) and exits 1.
package main

import (
	"context"
	"flag"
	"os"
	"time"

	grpcclient "github.com/go-micro/plugins/v4/client/grpc"
	"github.com/micro-rs/micro-rs/peers/gomicro-v4/helloworld"
	"github.com/micro-rs/micro-rs/peers/gomicro-v4/internal/peer"
	"go-micro.dev/v4/client"
	"go-micro.dev/v4/errors"
	"go-micro.dev/v4/metadata"
)

func main() {
	kind := flag.String("client", "mucp", "mucp (go-micro's rpc client) or grpc")
	reg := flag.String("registry", "mdns", "mdns or etcd")
	regAddress := flag.String("registry_address", "", "etcd address")
	service := flag.String("service", "helloworld", "service to call")
	endpoint := flag.String("endpoint", "Helloworld.Greeting", "endpoint to call")
	name := flag.String("name", "world", "who to greet")
	contentType := flag.String("content_type", "", "request content type (the client's default if empty)")
	token := flag.String("token", "", "a JWT sent as Authorization: Bearer <token>")
	wait := flag.Duration("wait", 10*time.Second, "how long to wait for the service to appear in the registry")
	md := peer.Pairs{}
	flag.Var(md, "metadata", "key=value metadata (repeatable)")
	flag.Parse()
	peer.KeepEtcdWorking()

	r := peer.Registry(*reg, *regAddress)
	peer.WaitForService(r, *service, *wait)
	var c client.Client
	switch *kind {
	case "mucp":
		c = client.DefaultClient
		if err := c.Init(client.Registry(r), client.Retries(0)); err != nil {
			peer.Fail("cannot configure the client: %v", err)
		}
	case "grpc":
		c = grpcclient.NewClient(client.Registry(r), client.Retries(0))
	default:
		peer.Fail("unknown client %q: use mucp or grpc", *kind)
	}
	if *token != "" {
		md["Authorization"] = "Bearer " + *token
	}
	ctx := metadata.NewContext(context.Background(), metadata.Metadata(md))
	var options []client.RequestOption
	if *contentType != "" {
		options = append(options, client.WithContentType(*contentType))
	}
	req := c.NewRequest(*service, *endpoint, &helloworld.Request{Name: *name}, options...)
	rsp := &helloworld.Response{}
	if err := c.Call(ctx, req, rsp, client.WithRequestTimeout(10*time.Second)); err != nil {
		peer.Print(errors.FromError(err))
		os.Exit(1)
	}
	peer.Print(map[string]string{"message": rsp.Message})
}

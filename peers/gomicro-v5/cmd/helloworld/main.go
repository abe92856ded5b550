// Command gomicro5-helloworld serves helloworld.Helloworld/Greeting (proto/helloworld.proto)
// as a go-micro v5 service: go-micro's rpc (mucp) server by default, its gRPC server with
// --server grpc. It prints {"listening":address} once registered and runs until SIGTERM.
//
// Greeting answers "Hello <name>", except for three names: "error" fails with a go-micro error
// (id helloworld, code 409), "metadata" answers with the caller's X-Request-Id metadata, and
// "whoami" with the id of the caller's account (with --auth_public_key set, every call needs a
// go-micro JWT as `Authorization: Bearer <token>`).
//
// With --streamer it also serves streaming.Streamer (proto/streaming.proto, streamer.go), for
// the loadgens' streaming RPCs.
package main

import (
	"context"
	"flag"
	"strings"
	"time"

	"github.com/micro-rs/micro-rs/peers/gomicro-v5/helloworld"
	"github.com/micro-rs/micro-rs/peers/gomicro-v5/internal/peer"
	"go-micro.dev/v5/auth"
	"go-micro.dev/v5/auth/jwt"
	"go-micro.dev/v5/broker"
	"go-micro.dev/v5/errors"
	"go-micro.dev/v5/metadata"
	"go-micro.dev/v5/server"
	grpcserver "go-micro.dev/v5/server/grpc"
)

// Helloworld is registered under its type name, so its endpoint is Helloworld.Greeting.
type Helloworld struct{}

// Greeting greets, fails, or echoes metadata or the caller's account, by name.
func (h *Helloworld) Greeting(ctx context.Context, req *helloworld.Request, rsp *helloworld.Response) error {
	switch req.Name {
	case "error":
		return errors.New("helloworld", "no greeting for error", 409)
	case "metadata":
		rsp.Message = "x-request-id=" + header(ctx, "X-Request-Id")
	case "whoami":
		account, ok := auth.AccountFromContext(ctx)
		if !ok {
			return errors.Unauthorized("helloworld", "no account")
		}
		rsp.Message = "account=" + account.ID
	default:
		rsp.Message = "Hello " + req.Name
	}
	return nil
}

// header is the metadata value under key, in any case (gRPC lowercases keys).
func header(ctx context.Context, key string) string {
	md, _ := metadata.FromContext(ctx)
	for k, v := range md {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// requireToken lets through calls whose bearer token a verifies.
func requireToken(a auth.Auth) server.HandlerWrapper {
	return func(next server.HandlerFunc) server.HandlerFunc {
		return func(ctx context.Context, req server.Request, rsp interface{}) error {
			token, ok := strings.CutPrefix(header(ctx, "Authorization"), auth.BearerScheme)
			if !ok {
				return errors.Unauthorized(req.Service(), "a bearer token is required")
			}
			account, err := a.Inspect(token)
			if err != nil {
				return errors.Unauthorized(req.Service(), "invalid token: %v", err)
			}
			return next(auth.ContextWithAccount(ctx, account), req, rsp)
		}
	}
}

func main() {
	kind := flag.String("server", "mucp", "mucp (go-micro's rpc server) or grpc")
	reg := flag.String("registry", "mdns", "mdns, etcd or memory")
	regAddress := flag.String("registry_address", "", "etcd address")
	name := flag.String("name", "helloworld", "service name")
	address := flag.String("address", "127.0.0.1:0", "listen address")
	streamer := flag.Bool("streamer", false, "also serve streaming.Streamer")
	publicKey := flag.String("auth_public_key", "", "base64 PEM; when set, calls need a JWT it verifies")
	flag.Parse()
	peer.KeepEtcdWorking()

	r := peer.Registry(*reg, *regAddress)
	opts := []server.Option{
		server.Name(*name),
		server.Address(*address),
		server.Registry(r),
		// What go-micro's flags set (--register_ttl, --register_interval); v4's gRPC server
		// has no default TTL, and its etcd registry dereferences a nil lease without one.
		server.RegisterTTL(60 * time.Second),
		server.RegisterInterval(30 * time.Second),
		server.Broker(broker.NewHttpBroker(broker.Registry(r), broker.Addrs("127.0.0.1:0"))),
	}
	if *publicKey != "" {
		a := jwt.NewAuth(auth.PublicKey(*publicKey))
		opts = append(opts, server.WrapHandler(requireToken(a)))
	}
	var srv server.Server
	switch *kind {
	case "mucp":
		srv = server.NewRPCServer(opts...)
	case "grpc":
		srv = grpcserver.NewServer(opts...)
	default:
		peer.Fail("unknown server %q: use mucp or grpc", *kind)
	}
	if err := srv.Handle(srv.NewHandler(&Helloworld{})); err != nil {
		peer.Fail("cannot handle: %v", err)
	}
	if *streamer {
		if err := srv.Handle(srv.NewHandler(&Streamer{})); err != nil {
			peer.Fail("cannot handle: %v", err)
		}
	}
	if err := srv.Start(); err != nil {
		peer.Fail("cannot start: %v", err)
	}
	peer.Print(map[string]string{"listening": srv.Options().Address})
	peer.WaitForSignal()
	if err := srv.Stop(); err != nil {
		peer.Fail("cannot stop: %v", err)
	}
}

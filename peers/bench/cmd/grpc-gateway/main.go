// Command grpc-gateway is grpc-gateway v2 in front of a helloworld gRPC server: the
// benchmarks (benches/src/gateway.rs) compare micro's API gateway with it, on the same
// service. JSON posted to /helloworld.Helloworld/Greeting is read into the generated
// message, called over gRPC (one HTTP/2 connection, as grpc-go dials) and answered as JSON.
//
//	grpc-gateway -listen 127.0.0.1:0 -backend 127.0.0.1:50051
//
// It prints "listening on <addr>" once it accepts connections.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/micro-rs/micro-rs/peers/bench/helloworld"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve HTTP on")
	backend := flag.String("backend", "", "the helloworld gRPC server, host:port")
	flag.Parse()
	if *backend == "" {
		log.Fatal("-backend host:port is required: the gRPC server to call")
	}
	mux := runtime.NewServeMux()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	err := helloworld.RegisterHelloworldHandlerFromEndpoint(context.Background(), mux, *backend, opts)
	if err != nil {
		log.Fatalf("cannot reach %s: %v", *backend, err)
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("cannot listen on %s: %v", *listen, err)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	log.Fatal(http.Serve(listener, mux))
}

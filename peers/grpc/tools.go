//go:build tools

// The peers' own programs, built by scripts/build-peers.sh from this module:
// grpc-go's interop client and server, and the Connect conformance runner.
package tools

import (
	_ "connectrpc.com/conformance/cmd/connectconformance"
	_ "google.golang.org/grpc/interop/client"
	_ "google.golang.org/grpc/interop/server"
)

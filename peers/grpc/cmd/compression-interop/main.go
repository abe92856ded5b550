// Command compression-interop runs the gRPC interop compression cases that
// grpc-go's own interop client and server leave out: client_compressed_unary,
// server_compressed_unary, client_compressed_streaming and
// server_compressed_streaming (grpc/grpc doc/interop-test-descriptions.md).
//
//	compression-interop client --server_host=127.0.0.1 --server_port=N --test_case=CASE
//	compression-interop server --port=N
//
// The server also serves every other interop case as grpc-go's interop server does.
package main

import (
	"flag"
	"fmt"
	"os"

	_ "google.golang.org/grpc/encoding/gzip" // registers "gzip" for both modes
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch mode, args := os.Args[1], os.Args[2:]; mode {
	case "client":
		err = clientMain(args)
	case "server":
		err = serverMain(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compression-interop:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: compression-interop client --server_host=HOST --server_port=N --test_case=CASE")
	fmt.Fprintln(os.Stderr, "       compression-interop server --port=N")
	fmt.Fprintf(os.Stderr, "cases: %v\n", caseNames())
	os.Exit(2)
}

// parseFlags parses args into fs, failing on positional leftovers.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

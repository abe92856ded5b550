//go:build tools

// The go-micro CLI, built by scripts/build-peers.sh as gomicro5-micro.
package tools

import _ "go-micro.dev/v5/cmd/micro"

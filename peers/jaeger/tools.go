//go:build tools

// Jaeger v2 (an OpenTelemetry Collector distribution with an OTLP receiver, in-memory storage
// and the query API), built by scripts/build-peers.sh from this module: the real receiver the
// OpenTelemetry export tests send spans to.
package tools

import (
	_ "github.com/jaegertracing/jaeger/cmd/jaeger"
)

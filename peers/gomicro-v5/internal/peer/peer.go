// Package peer holds what the go-micro peer programs share: picking a registry from flags,
// repeatable key=value flags, JSON output and waiting for a signal.
package peer

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go-micro.dev/v5/registry"
	"go-micro.dev/v5/registry/etcd"
)

// Registry is mdns (go-micro's default), etcd at address, or memory: go-micro's in-process
// registry, for a process that need not be found over the network (a benchmark server
// called at its address).
func Registry(name, address string) registry.Registry {
	switch name {
	case "", "mdns":
		return registry.NewMDNSRegistry()
	case "memory":
		return registry.NewMemoryRegistry()
	case "etcd":
		return etcd.NewEtcdRegistry(registry.Addrs(address))
	default:
		Fail("unknown registry %q: use mdns, etcd or memory", name)
		return nil
	}
}

// WaitForService polls the registry until name has a node or wait passes.
func WaitForService(r registry.Registry, name string, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for {
		services, err := r.GetService(name)
		if err == nil {
			for _, service := range services {
				if len(service.Nodes) > 0 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pairs is a repeatable `--flag key=value`.
type Pairs map[string]string

func (p Pairs) String() string { return fmt.Sprint(map[string]string(p)) }

// Set adds one key=value.
func (p Pairs) Set(value string) error {
	key, val, ok := strings.Cut(value, "=")
	if !ok {
		return fmt.Errorf("%q is not key=value", value)
	}
	p[key] = val
	return nil
}

// Print writes v as one line of JSON on stdout.
func Print(v interface{}) {
	line, err := json.Marshal(v)
	if err != nil {
		Fail("cannot encode output: %v", err)
	}
	fmt.Println(string(line))
}

// Fail prints the message on stderr and exits 2.
func Fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

// WaitForSignal blocks until SIGINT or SIGTERM.
func WaitForSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	<-ch
}

// WaitForSignalOr blocks until SIGINT, SIGTERM or the end of wait.
func WaitForSignalOr(wait time.Duration) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-ch:
	case <-time.After(wait):
	}
}

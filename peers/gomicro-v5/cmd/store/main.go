// Command gomicro5-store writes and reads records in go-micro v5's PostgreSQL store
// (store/postgres, go-micro's schema: <database>.<table>(key, value, metadata, expiry)).
//
//	gomicro5-store write --url postgres://… --database d --table t --key k --value v [--metadata a=b]
//	gomicro5-store read --url postgres://… --database d --table t --key k [--prefix]
//	    prints each record as {"key","value","metadata"}, or {"error":…} and exits 1
package main

import (
	"flag"
	"os"

	"github.com/micro-rs/micro-rs/peers/gomicro-v5/internal/peer"
	"go-micro.dev/v5/store"
	"go-micro.dev/v5/store/postgres"
)

func main() {
	if len(os.Args) < 2 {
		peer.Fail("usage: gomicro5-store write|read [flags]")
	}
	command := os.Args[1]
	flags := flag.NewFlagSet(command, flag.ExitOnError)
	url := flags.String("url", "", "PostgreSQL connection URL")
	database := flags.String("database", "micro", "database (a schema)")
	table := flags.String("table", "micro", "table")
	key := flags.String("key", "", "record key")
	value := flags.String("value", "", "record value (write)")
	prefix := flags.Bool("prefix", false, "read every key with this prefix")
	md := peer.Pairs{}
	flags.Var(md, "metadata", "key=value metadata (write, repeatable)")
	_ = flags.Parse(os.Args[2:])

	s := postgres.NewStore(store.Nodes(*url), store.Database(*database), store.Table(*table))
	defer s.Close()
	switch command {
	case "write":
		metadata := map[string]interface{}{}
		for k, v := range md {
			metadata[k] = v
		}
		if err := s.Write(&store.Record{Key: *key, Value: []byte(*value), Metadata: metadata}); err != nil {
			peer.Fail("cannot write: %v", err)
		}
		peer.Print(map[string]string{"written": *key})
	case "read":
		var options []store.ReadOption
		if *prefix {
			options = append(options, store.ReadPrefix())
		}
		records, err := s.Read(*key, options...)
		if err != nil {
			peer.Print(map[string]string{"error": err.Error()})
			os.Exit(1)
		}
		for _, r := range records {
			peer.Print(map[string]interface{}{"key": r.Key, "value": string(r.Value), "metadata": r.Metadata})
		}
	default:
		peer.Fail("unknown command %q: use write or read", command)
	}
}

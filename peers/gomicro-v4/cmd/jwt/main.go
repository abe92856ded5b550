// Command gomicro4-jwt issues and inspects go-micro v4 JWTs (auth/jwt, RS256) with given keys.
//
//	gomicro4-jwt issue --public_key B64 --private_key B64 --id alice [--scopes a,b]
//	    prints {"token":…}: the access token go-micro's Token() issues for the account
//	gomicro4-jwt inspect --public_key B64 --token T
//	    prints the account as {"id","type","issuer","scopes","metadata"}, or {"error":…}, exit 1
package main

import (
	"flag"
	"os"
	"strings"

	"github.com/go-micro/plugins/v4/auth/jwt"
	"github.com/micro-rs/micro-rs/peers/gomicro-v4/internal/peer"
	"go-micro.dev/v4/auth"
)

func main() {
	if len(os.Args) < 2 {
		peer.Fail("usage: gomicro4-jwt issue|inspect [flags]")
	}
	command := os.Args[1]
	flags := flag.NewFlagSet(command, flag.ExitOnError)
	publicKey := flags.String("public_key", "", "base64 PEM public key")
	privateKey := flags.String("private_key", "", "base64 PEM private key (issue)")
	namespace := flags.String("namespace", "go.micro", "issuer namespace")
	id := flags.String("id", "", "account id (issue)")
	scopes := flags.String("scopes", "", "comma-separated scopes (issue)")
	token := flags.String("token", "", "token (inspect)")
	_ = flags.Parse(os.Args[2:])

	a := jwt.NewAuth(auth.PublicKey(*publicKey), auth.PrivateKey(*privateKey), auth.Namespace(*namespace))
	switch command {
	case "issue":
		var options []auth.GenerateOption
		if *scopes != "" {
			options = append(options, auth.WithScopes(strings.Split(*scopes, ",")...))
		}
		account, err := a.Generate(*id, append(options, auth.WithType("user"))...)
		if err != nil {
			peer.Fail("cannot generate the account: %v", err)
		}
		tok, err := a.Token(auth.WithCredentials(account.ID, account.Secret))
		if err != nil {
			peer.Fail("cannot issue a token: %v", err)
		}
		peer.Print(map[string]string{"token": tok.AccessToken})
	case "inspect":
		account, err := a.Inspect(*token)
		if err != nil {
			peer.Print(map[string]string{"error": err.Error()})
			os.Exit(1)
		}
		peer.Print(map[string]interface{}{
			"id": account.ID, "type": account.Type, "issuer": account.Issuer,
			"scopes": account.Scopes, "metadata": account.Metadata,
		})
	default:
		peer.Fail("unknown command %q: use issue or inspect", command)
	}
}

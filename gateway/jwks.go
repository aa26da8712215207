package main

// The published key set (contract §4, `auth.jwks`): served at
// GET /.well-known/jwks.json for anyone who verifies access tokens, and
// read by the gateway's own verifier (tokens.go) when it is on.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go"
)

// jwksPath is where the key set is served: the customary place, which
// the OpenAPI document lists too.
const jwksPath = "/.well-known/jwks.json"

// jwksCacheControl lets caches keep the key set for 5 minutes: less than
// the 10 minutes operators leave a new key on standby before it signs
// (contract §4), so no cache still lacks a key when its first tokens
// appear.
const jwksCacheControl = "public, max-age=300"

// jwksRequest is the NATS request for the key set: `{}` in JSON, so that
// the worker's reply is the JSON to publish as it is.
func jwksRequest(prefix, correlation string) *nats.Msg {
	msg := nats.NewMsg(prefix + ".auth.v1.jwks")
	msg.Data = []byte("{}")
	msg.Header.Set("Content-Type", "application/json")
	msg.Header.Set("X-Correlation-Id", correlation)
	return msg
}

// serveJWKS answers the key set as the auth worker gives it, byte for
// byte, cacheable; its errors as any operation's.
func (g *Gateway) serveJWKS(w http.ResponseWriter, r *http.Request, correlation string) int {
	reply, status := g.request(w, r, jwksRequest(g.prefix, correlation), "auth.jwks", correlation)
	if reply == nil {
		return status
	}
	decoder := json.NewDecoder(bytes.NewReader(reply.Data))
	decoder.UseNumber()
	var decoded any
	if err := decoder.Decode(&decoded); err != nil || decoder.More() {
		log.Printf("olympus-gateway: undecodable reply to auth.jwks: %v", err)
		return writeError(w, http.StatusBadGateway, "internal", "the worker's reply could not be read", correlation, nil)
	}
	status, retryAfter := replyStatus(reply.Header.Get("Nats-Service-Error-Code"), decoded)
	if status != http.StatusOK {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		return writeJSON(w, status, decoded)
	}
	w.Header().Set("Cache-Control", jwksCacheControl)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(reply.Data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(reply.Data)
	return http.StatusOK
}

// fetchKeySet asks the auth worker for the key set and returns its
// Ed25519 keys by kid.
func fetchKeySet(ctx context.Context, nc *nats.Conn, prefix string) (map[string]ed25519.PublicKey, error) {
	reply, err := nc.RequestMsgWithContext(ctx, jwksRequest(prefix, newUUID()))
	if err != nil {
		return nil, err
	}
	if code := reply.Header.Get("Nats-Service-Error-Code"); code != "" {
		return nil, fmt.Errorf("auth.jwks answered %s (%s)", code, escapeLog(reply.Header.Get("Nats-Service-Error")))
	}
	return parseKeySet(reply.Data)
}

// jwk is one key of a JWK set (RFC 7517, RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// parseKeySet reads a JWK set: its Ed25519 signing keys by kid. Keys of
// another type or use are left out, as RFC 7517 §5 asks of keys a reader
// does not understand; a kid given twice verifies nothing, since which
// key it names is unclear.
func parseKeySet(data []byte) (map[string]ed25519.PublicKey, error) {
	var set struct {
		Keys *[]jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("the key set is not a JWK set: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New("the key set has no keys member")
	}
	keys := make(map[string]ed25519.PublicKey, len(*set.Keys))
	twice := map[string]bool{}
	for _, k := range *set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Alg != "" && k.Alg != "EdDSA") || (k.Use != "" && k.Use != "sig") || k.Kid == "" {
			continue
		}
		x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			log.Printf("olympus-gateway: key set: key %q is not a 32-byte base64url Ed25519 key; left out", escapeLog(k.Kid))
			continue
		}
		if _, seen := keys[k.Kid]; seen || twice[k.Kid] {
			twice[k.Kid] = true
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	for kid := range twice {
		log.Printf("olympus-gateway: key set: kid %q is given twice; it verifies nothing", escapeLog(kid))
		delete(keys, kid)
	}
	return keys, nil
}

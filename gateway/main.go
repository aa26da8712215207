// Command olympus-gateway is the reference HTTP gateway of Olympus: it
// bridges HTTP to the workers' NATS request-reply subjects, as the
// contract (contracts/spec/v1.json, embedded) describes them.
//
// Every operation is `POST /v1/{service}/{operation}` (for example
// `POST /v1/auth/login`, `POST /v1/commerce/orders.create`), with the
// request object as a JSON body and the reply object (or the coded error)
// as JSON. On NATS it speaks MessagePack. `GET /openapi.json` serves the
// OpenAPI 3.1 document generated from the same spec; `GET /healthz` and
// `GET /readyz` are for orchestrators; `GET /.well-known/jwks.json` is the
// access tokens' published key set (`auth.jwks`), cacheable for 5 minutes.
//
// Configuration, flags or environment (flags win):
//
//	-nats-url         NATS_URL                          nats://127.0.0.1:4222
//	-subject-prefix   OLYMPUS_SUBJECT_PREFIX            olympus
//	-addr             OLYMPUS_GATEWAY_ADDR              127.0.0.1:8080
//	-inbox-prefix     OLYMPUS_GATEWAY_INBOX_PREFIX      _INBOX (this user's own, if NATS gives it one)
//	-trusted-proxies  OLYMPUS_GATEWAY_TRUSTED_PROXIES   none (CIDRs whose X-Forwarded-For is believed)
//	-timeout          OLYMPUS_GATEWAY_TIMEOUT           10s (per NATS request)
//	-verify-tokens    OLYMPUS_GATEWAY_VERIFY_TOKENS     false (check access tokens here too, see tokens.go)
//	-jwt-issuer       OLYMPUS_JWT_ISSUER                olympus (iss accepted, with -verify-tokens)
//	-jwt-audience     OLYMPUS_JWT_AUDIENCE              olympus (aud accepted, with -verify-tokens)
//
// It is built with the Go of requirements-go.txt and the dependencies in
// vendor/: `go build -mod=vendor -o olympus-gateway .` (see README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

func env(name, fallback string) string {
	if value, ok := os.LookupEnv(name); ok && value != "" {
		return value
	}
	return fallback
}

func main() {
	natsURL := flag.String("nats-url", env("NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL (NATS_URL)")
	prefix := flag.String("subject-prefix", env("OLYMPUS_SUBJECT_PREFIX", "olympus"), "prefix of every subject (OLYMPUS_SUBJECT_PREFIX)")
	addr := flag.String("addr", env("OLYMPUS_GATEWAY_ADDR", "127.0.0.1:8080"), "listen address (OLYMPUS_GATEWAY_ADDR)")
	inbox := flag.String("inbox-prefix", env("OLYMPUS_GATEWAY_INBOX_PREFIX", ""), "inbox prefix of replies, when NATS gives this user its own (OLYMPUS_GATEWAY_INBOX_PREFIX)")
	proxies := flag.String("trusted-proxies", env("OLYMPUS_GATEWAY_TRUSTED_PROXIES", ""), "comma-separated CIDRs whose X-Forwarded-For is believed (OLYMPUS_GATEWAY_TRUSTED_PROXIES)")
	timeout := flag.Duration("timeout", mustDuration(env("OLYMPUS_GATEWAY_TIMEOUT", "10s")), "how long to wait for a worker's reply (OLYMPUS_GATEWAY_TIMEOUT)")
	verify := flag.Bool("verify-tokens", mustBool("OLYMPUS_GATEWAY_VERIFY_TOKENS", env("OLYMPUS_GATEWAY_VERIFY_TOKENS", "false")),
		"verify the access token of bearer operations against the published key set (auth.jwks) before NATS: a bad one gets 401 here; "+
			"the workers still check every token (OLYMPUS_GATEWAY_VERIFY_TOKENS, true or false)")
	issuer := flag.String("jwt-issuer", env("OLYMPUS_JWT_ISSUER", "olympus"), "iss of access tokens, with -verify-tokens; as the workers' (OLYMPUS_JWT_ISSUER)")
	audience := flag.String("jwt-audience", env("OLYMPUS_JWT_AUDIENCE", "olympus"), "aud of access tokens, with -verify-tokens; as the workers' (OLYMPUS_JWT_AUDIENCE)")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.LUTC | log.Lmicroseconds)

	trusted, err := parseCIDRs(*proxies)
	if err != nil {
		log.Fatalf("olympus-gateway: -trusted-proxies: %v", err)
	}
	spec, err := loadSpec()
	if err != nil {
		log.Fatalf("olympus-gateway: reading the embedded contract spec: %v", err)
	}
	nc, err := connectNATS(*natsURL, *inbox)
	if err != nil {
		log.Fatalf("olympus-gateway: connecting to NATS at %s: %v", redact(*natsURL), err)
	}
	gateway, err := newGateway(nc, spec, *prefix, trusted, *timeout)
	if err != nil {
		log.Fatalf("olympus-gateway: %v", err)
	}
	background, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	if *verify {
		gateway.tokens = newVerifier(nc, *prefix, *issuer, *audience, *timeout)
		go gateway.tokens.run(background)
	}
	server := newServer(*addr, gateway, *timeout)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		log.Printf("olympus-gateway: stopping: finishing requests in flight")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := server.Shutdown(ctx); err != nil {
			log.Printf("olympus-gateway: shutdown: %v", err)
		}
	}()
	// Listening before saying so: "ready" means connections are taken.
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("olympus-gateway: listening on %s: %v", *addr, err)
	}
	verifying := "access tokens checked by the workers only"
	if *verify {
		verifying = fmt.Sprintf("access tokens verified here too (iss %q, aud %q)", *issuer, *audience)
	}
	log.Printf("olympus-gateway ready: listening on %s, %d operations under %s.*, NATS %s, %s",
		*addr, len(spec.Operations), *prefix, redact(*natsURL), verifying)
	if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("olympus-gateway: %v", err)
	}
	stopBackground()
	if err := nc.Drain(); err != nil {
		log.Printf("olympus-gateway: draining NATS: %v", err)
	}
	log.Printf("olympus-gateway stopped")
}

// connectNATS connects for good: it reconnects forever, and buffers
// nothing meanwhile (ReconnectBufSize -1), so that a request refused while
// NATS is away (503) is never sent later, when the caller may have retried
// or given up. It pings its server every 2 s and leaves one that misses
// two pings for another server of the URL's list (the client's default,
// 2 minutes, kept requests waiting on a hung node for minutes).
func connectNATS(url, inboxPrefix string) (*nats.Conn, error) {
	options := []nats.Option{
		nats.Name("olympus-gateway"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(2),
	}
	if inboxPrefix != "" {
		options = append(options, nats.CustomInboxPrefix(inboxPrefix))
	}
	return nats.Connect(url, options...)
}

// newServer is the gateway's HTTP server: bounded header bytes and time
// to read and write (idle connections close after ReadTimeout). Go itself
// refuses bare LF in chunked framing (since 1.23.8 and 1.24.2,
// CVE-2025-22871) and chunk extensions much larger than their data (since
// 1.21.5, CVE-2023-39326); the pinned Go (requirements-go.txt) has both. A
// request with both Content-Length and Transfer-Encoding is closed after
// its reply by the handler (Gateway.ServeHTTP).
func newServer(addr string, handler http.Handler, timeout time.Duration) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      timeout + 10*time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(escapingWriter{os.Stderr}, "", log.LstdFlags|log.LUTC|log.Lmicroseconds),
	}
}

// escapingWriter writes the HTTP server's own log lines (which may quote
// a caller's bytes) with control characters escaped, ending in one newline.
type escapingWriter struct{ out *os.File }

func (e escapingWriter) Write(p []byte) (int, error) {
	line := strings.TrimSuffix(string(p), "\n")
	_, err := e.out.WriteString(escapeLog(line) + "\n")
	return len(p), err
}

// mustBool reads a true/false setting of the environment variable name.
func mustBool(name, value string) bool {
	b, err := strconv.ParseBool(value)
	if err != nil {
		log.Fatalf("olympus-gateway: %s: %q is neither true nor false", name, value)
	}
	return b
}

func mustDuration(value string) time.Duration {
	d, err := time.ParseDuration(value)
	if err != nil {
		log.Fatalf("olympus-gateway: OLYMPUS_GATEWAY_TIMEOUT: %v", err)
	}
	return d
}

// redact hides the password of a nats://user:password@host URL.
func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return url
	}
	user, _, _ := strings.Cut(userinfo, ":")
	return scheme + "://" + user + ":***@" + host
}

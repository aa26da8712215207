package main

// The published key set (GET /.well-known/jwks.json) and local token
// verification (-verify-tokens), against a real nats-server with a
// stand-in for the workers.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/nats-io/nats.go"
)

// standIn stands in for the workers on the test's NATS server: it answers
// auth.jwks with its key set (in JSON, as asked) and every other
// operation with {}, counting both and keeping what operations carried.
type standIn struct {
	mu            sync.Mutex
	keys          []jwk  // the published set
	jwksReply     []byte // when set, auth.jwks's body instead of keys
	jwksError     string // when set, auth.jwks answers this Nats-Service-Error-Code
	jwksSilent    bool   // auth.jwks is not answered (no worker yet)
	jwksHeader    nats.Header
	jwksData      []byte
	authorization []string // of each operation that reached it

	jwksFetches atomic.Int32
	operations  atomic.Int32
}

func startStandIn(t *testing.T, server *natsServer, keys ...testKey) *standIn {
	t.Helper()
	s := &standIn{}
	s.publish(keys...)
	nc, err := nats.Connect(server.url())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := nc.Subscribe("olympus.>", s.answer); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *standIn) answer(m *nats.Msg) {
	if m.Subject != "olympus.auth.v1.jwks" {
		s.mu.Lock()
		s.authorization = append(s.authorization, m.Header.Get("Authorization"))
		s.mu.Unlock()
		s.operations.Add(1)
		_ = m.Respond([]byte{0x80})
		return
	}
	s.mu.Lock()
	s.jwksHeader, s.jwksData = m.Header, m.Data
	silent, code, body := s.jwksSilent, s.jwksError, s.jwksReply
	if body == nil {
		body, _ = json.Marshal(map[string]any{"keys": s.keys})
	}
	s.mu.Unlock()
	if silent {
		return
	}
	s.jwksFetches.Add(1)
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set("Content-Type", "application/json")
	if code != "" {
		reply.Header.Set("Nats-Service-Error-Code", code)
		reply.Header.Set("Nats-Service-Error", "stand-in error")
	}
	reply.Data = body
	_ = m.RespondMsg(reply)
}

// publish makes keys the published set.
func (s *standIn) publish(keys ...testKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = []jwk{}
	for _, k := range keys {
		s.keys = append(s.keys, k.jwk())
	}
}

func (s *standIn) set(change func(s *standIn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(s)
}

// testKey is a signing key as the auth worker holds it.
type testKey struct {
	kid     string
	private ed25519.PrivateKey
}

func newTestKey(t *testing.T, kid string) testKey {
	t.Helper()
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, private: private}
}

func (k testKey) jwk() jwk {
	public := k.private.Public().(ed25519.PublicKey)
	return jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(public), Kid: k.kid, Alg: "EdDSA", Use: "sig"}
}

// testNow is the verifier's clock in these tests; tokens are made
// relative to it.
var testNow = time.Unix(1_800_000_000, 0)

// accessClaimsAt: the claims the auth worker puts in an access token
// issued at now, for an hour.
func accessClaimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "olympus", "aud": "olympus",
		"sub": "0190f4c2-0000-7000-8000-000000000001", "tid": "0190f4c2-0000-7000-8000-000000000002",
		"sid": "0190f4c2-0000-7000-8000-000000000003", "role": "member", "amr": []string{"pwd"},
		"auth_time": now.Unix(), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": "0190f4c2-0000-7000-8000-000000000004",
	}
}

// token is an access token signed by k as the auth worker signs them,
// after edit (nil: none) changed its header or claims; a header field
// set to nil is removed.
func (k testKey) token(t *testing.T, edit func(header map[string]any, claims jwt.MapClaims)) string {
	t.Helper()
	return signed(t, jwt.SigningMethodEdDSA, k.private, k.kid, edit)
}

func signed(t *testing.T, method jwt.SigningMethod, key any, kid string, edit func(header map[string]any, claims jwt.MapClaims)) string {
	t.Helper()
	token := jwt.NewWithClaims(method, accessClaimsAt(testNow))
	token.Header["typ"] = "at+jwt"
	token.Header["kid"] = kid
	if edit != nil {
		edit(token.Header, token.Claims.(jwt.MapClaims))
	}
	for name, value := range token.Header {
		if value == nil {
			delete(token.Header, name)
		}
	}
	text, err := token.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// verifyingGateway is a gateway on server with -verify-tokens, its
// verifier's clock at testNow and tune applied (nil: none) before its
// refresh loop starts; it returns once the first fetch has ended.
func verifyingGateway(t *testing.T, server *natsServer, tune func(*verifier)) (*Gateway, *verifier) {
	t.Helper()
	g, nc := natsGateway(t, server, time.Second)
	v := newVerifier(nc, "olympus", "olympus", "olympus", time.Second)
	v.now = func() time.Time { return testNow }
	if tune != nil {
		tune(v)
	}
	g.tokens = v
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go v.run(ctx)
	eventually(t, 5*time.Second, "the first fetch", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return !v.attempted.IsZero() && v.inflight == nil
	})
	return g, v
}

func eventually(t *testing.T, within time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// me calls auth.me (B) with the token; "" sends no Authorization.
func me(g *Gateway, token string) (int, http.Header, map[string]any) {
	headers := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		headers["Authorization"] = "Bearer " + token
	}
	return call(g, "POST", "/v1/auth/me", headers, "")
}

func TestTheKeySetIsServedAsTheAuthWorkerGivesItCacheable(t *testing.T) {
	server := startNATS(t)
	g, _ := natsGateway(t, server, time.Second)
	workers := startStandIn(t, server)
	// Byte for byte, its spacing and order included.
	published := []byte(`{"keys": [{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k2","alg":"EdDSA","use":"sig"}]}`)
	workers.set(func(s *standIn) { s.jwksReply = published })

	r := httptest.NewRequest("GET", jwksPath, nil)
	r.Header.Set("X-Correlation-Id", "jwks-1")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), published) {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json", "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff",
		"X-Correlation-Id": "jwks-1", "Content-Length": itoa(len(published)),
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	// Asked in JSON, with the caller's correlation id and an empty object.
	workers.mu.Lock()
	asked, data := workers.jwksHeader, workers.jwksData
	workers.mu.Unlock()
	if asked.Get("Content-Type") != "application/json" || asked.Get("X-Correlation-Id") != "jwks-1" || string(data) != "{}" {
		t.Errorf("the NATS request: %v %q", asked, data)
	}
	if status, headers, _ := call(g, "HEAD", jwksPath, nil, ""); status != 200 || headers.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("HEAD: %d %v", status, headers)
	}
	for _, method := range []string{"POST", "PUT", "DELETE", "OPTIONS"} {
		status, headers, body := call(g, method, jwksPath, jsonType, "{}")
		if status != 405 || headers.Get("Allow") != "GET, HEAD" || body["code"] != "bad_request" {
			t.Errorf("%s: %d %v %v", method, status, headers, body)
		}
	}
	if workers.jwksFetches.Load() != 2 || workers.operations.Load() != 0 {
		t.Errorf("%d key set requests, %d operations: one per GET and HEAD", workers.jwksFetches.Load(), workers.operations.Load())
	}
}

func TestKeySetErrorsAreAnsweredAsAnyOperationsAndNotCached(t *testing.T) {
	server := startNATS(t)
	g, _ := natsGateway(t, server, 300*time.Millisecond)
	// No worker answers auth.jwks.
	status, headers, body := call(g, "GET", jwksPath, nil, "")
	if status != 503 || body["code"] != "unavailable" || headers.Get("Retry-After") != "1" || headers.Get("Cache-Control") != "no-store" {
		t.Errorf("no worker: %d %v %v", status, headers, body)
	}
	workers := startStandIn(t, server)
	// The worker's error, its status and retry_after_secs.
	workers.set(func(s *standIn) {
		s.jwksError = "503"
		s.jwksReply = []byte(`{"code":"unavailable","message":"try again","details":{"retry_after_secs":7},"correlation_id":"c"}`)
	})
	status, headers, body = call(g, "GET", jwksPath, nil, "")
	if status != 503 || body["message"] != "try again" || headers.Get("Retry-After") != "7" || headers.Get("Cache-Control") != "no-store" {
		t.Errorf("worker's error: %d %v %v", status, headers, body)
	}
	// A reply that is not JSON.
	workers.set(func(s *standIn) { s.jwksError, s.jwksReply = "", []byte{0x81, 0xa4} })
	if status, headers, body := call(g, "GET", jwksPath, nil, ""); status != 502 || body["code"] != "internal" || headers.Get("Cache-Control") != "no-store" {
		t.Errorf("not JSON: %d %v %v", status, headers, body)
	}
	// Sent, no reply in time.
	workers.set(func(s *standIn) { s.jwksSilent = true })
	status, headers, body = call(g, "GET", jwksPath, nil, "")
	if status != 504 || body["code"] != "unavailable" || headers.Get("Retry-After") != "1" {
		t.Errorf("no reply: %d %v %v", status, headers, body)
	}
}

func TestAKeySetIsReadForItsEd25519SigningKeysOnly(t *testing.T) {
	x := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	set := `{"keys":[
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"good","alg":"EdDSA","use":"sig"},
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"bare"},
		{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa"},
		{"kty":"OKP","crv":"X25519","x":"` + x + `","kid":"x25519"},
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"hs","alg":"HS256"},
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"enc","use":"enc"},
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `="	,"kid":"padded"},
		{"kty":"OKP","crv":"Ed25519","x":"` + x[:40] + `","kid":"short"},
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":""},
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"twice"},
		{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"twice"}
	]}`
	keys, err := parseKeySet([]byte(set))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys["good"] == nil || keys["bare"] == nil {
		t.Errorf("%v", keys)
	}
	for _, bad := range []string{`{}`, `{"keys":null}`, `[]`, `{"keys":{}}`, `not json`} {
		if _, err := parseKeySet([]byte(bad)); err == nil {
			t.Errorf("%s is a key set", bad)
		}
	}
	if keys, err := parseKeySet([]byte(`{"keys":[]}`)); err != nil || len(keys) != 0 {
		t.Errorf("an empty set: %v %v", keys, err)
	}
}

func TestWithVerificationOnAGoodTokenReachesTheWorker(t *testing.T) {
	server := startNATS(t)
	active, standby := newTestKey(t, "active"), newTestKey(t, "standby")
	workers := startStandIn(t, server, active, standby)
	g, _ := verifyingGateway(t, server, nil)
	tokens := map[string]string{
		"active":                 active.token(t, nil),
		"standby (published)":    standby.token(t, nil),
		"expired within leeway":  active.token(t, func(_ map[string]any, c jwt.MapClaims) { c["exp"] = testNow.Unix() - 4 }),
		"not before, in leeway":  active.token(t, func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = testNow.Unix() + 5 }),
		"unknown claims ignored": active.token(t, func(_ map[string]any, c jwt.MapClaims) { c["extra"] = true }),
	}
	for name, token := range tokens {
		before := workers.operations.Load()
		status, _, body := me(g, token)
		if status != 200 || workers.operations.Load() != before+1 {
			t.Errorf("%s: %d %v", name, status, body)
			continue
		}
		// Passed on as it came: the worker checks it again.
		workers.mu.Lock()
		got := workers.authorization[len(workers.authorization)-1]
		workers.mu.Unlock()
		if got != "Bearer "+token {
			t.Errorf("%s: Authorization reached the worker as %q", name, got)
		}
	}
}

func TestWithVerificationOnBadTokensAre401WithoutReachingAWorker(t *testing.T) {
	server := startNATS(t)
	key, other := newTestKey(t, "k1"), newTestKey(t, "k2")
	workers := startStandIn(t, server, key)
	g, _ := verifyingGateway(t, server, nil)
	public := key.private.Public().(ed25519.PublicKey)
	good := key.token(t, nil)
	parts := strings.Split(good, ".")
	claims := func(change func(c jwt.MapClaims)) func(map[string]any, jwt.MapClaims) {
		return func(_ map[string]any, c jwt.MapClaims) { change(c) }
	}
	header := func(change func(h map[string]any)) func(map[string]any, jwt.MapClaims) {
		return func(h map[string]any, _ jwt.MapClaims) { change(h) }
	}
	cases := map[string]string{
		// The public key as an HMAC secret: the classic confusion.
		"HS256 under the public key": signed(t, jwt.SigningMethodHS256, []byte(public), "k1", nil),
		"HS256":                      signed(t, jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), "k1", nil),
		"alg none":                   signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", nil),
		"alg none, no signature":     strings.TrimSuffix(signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", nil), "."),
		"typ JWT":                    key.token(t, header(func(h map[string]any) { h["typ"] = "JWT" })),
		"no typ":                     key.token(t, header(func(h map[string]any) { h["typ"] = nil })),
		"unknown kid":                key.token(t, header(func(h map[string]any) { h["kid"] = "k9" })),
		"no kid":                     key.token(t, header(func(h map[string]any) { h["kid"] = nil })),
		"kid not a string":           key.token(t, header(func(h map[string]any) { h["kid"] = 1 })),
		"signed by another key":      other.token(t, header(func(h map[string]any) { h["kid"] = "k1" })),
		"claims changed after signing": parts[0] + "." + base64.RawURLEncoding.EncodeToString(
			[]byte(`{"iss":"olympus","aud":"olympus","role":"owner","nbf":0,"exp":9999999999}`)) + "." + parts[2],
		"signature cut":    parts[0] + "." + parts[1] + "." + parts[2][:20],
		"expired":          key.token(t, claims(func(c jwt.MapClaims) { c["exp"] = testNow.Unix() - 5 })),
		"not yet valid":    key.token(t, claims(func(c jwt.MapClaims) { c["nbf"] = testNow.Unix() + 6 })),
		"no exp":           key.token(t, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"no nbf":           key.token(t, claims(func(c jwt.MapClaims) { delete(c, "nbf") })),
		"exp not a number": key.token(t, claims(func(c jwt.MapClaims) { c["exp"] = "9999999999" })),
		"wrong iss":        key.token(t, claims(func(c jwt.MapClaims) { c["iss"] = "someone-else" })),
		"no iss":           key.token(t, claims(func(c jwt.MapClaims) { delete(c, "iss") })),
		"wrong aud":        key.token(t, claims(func(c jwt.MapClaims) { c["aud"] = "another-service" })),
		"aud a list":       key.token(t, claims(func(c jwt.MapClaims) { c["aud"] = []string{"olympus"} })),
		"not a JWT":        "not-a-token",
		"empty":            "",
		"four parts":       good + ".x",
		"many dots":        strings.Repeat(".", 4000),
		"header not JSON":  base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + parts[1] + "." + parts[2],
	}
	for name, token := range cases {
		r := httptest.NewRequest("POST", "/v1/auth/me", strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		// The workers' reply, in the gateway's error format.
		if w.Code != 401 || len(body) != 3 || body["code"] != "unauthenticated" || body["message"] != "a valid access token is required" ||
			body["correlation_id"] != w.Header().Get("X-Correlation-Id") || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %v %v", name, w.Code, w.Header(), body)
		}
	}
	if n := workers.operations.Load(); n != 0 {
		t.Errorf("%d refused requests reached a worker", n)
	}
	// The scheme is case-insensitive, as the workers read it.
	if status, _, _ := call(g, "POST", "/v1/auth/me", map[string]string{"Content-Type": "application/json",
		"Authorization": "bearer " + cases["expired"]}, ""); status != 401 || workers.operations.Load() != 0 {
		t.Errorf("lower-case bearer: %d", status)
	}
	// The good token, after all that, passes.
	if status, _, _ := me(g, good); status != 200 || workers.operations.Load() != 1 {
		t.Errorf("the good token: %d", status)
	}
}

func TestAnUnknownKidFetchesTheKeySetAgainAtMostOnceAnInterval(t *testing.T) {
	server := startNATS(t)
	old, next := newTestKey(t, "old"), newTestKey(t, "next")
	workers := startStandIn(t, server, old)
	const interval = time.Second
	g, v := verifyingGateway(t, server, func(v *verifier) { v.unknownKidEvery = interval })
	if v.refreshEvery != time.Minute {
		t.Fatalf("the periodic refresh is %v", v.refreshEvery)
	}
	if workers.jwksFetches.Load() != 1 {
		t.Fatalf("%d fetches at start", workers.jwksFetches.Load())
	}
	token := next.token(t, nil)
	// Within the interval of the fetch at start: refused, nothing fetched.
	if status, _, _ := me(g, token); status != 401 || workers.jwksFetches.Load() != 1 {
		t.Errorf("at once: %d, %d fetches", status, workers.jwksFetches.Load())
	}
	time.Sleep(interval)
	// Fetched again; still unknown, so refused. Many callers meanwhile
	// cost that one fetch.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, _, _ := me(g, token); status != 401 {
				t.Errorf("unknown kid: %d", status)
			}
		}()
	}
	wg.Wait()
	if n := workers.jwksFetches.Load(); n != 2 {
		t.Errorf("20 unknown kids at once: %d fetches in all, want 2", n)
	}
	// The key is published; the next fetch may come only after the interval.
	workers.publish(old, next)
	if status, _, _ := me(g, token); status != 401 || workers.jwksFetches.Load() != 2 {
		t.Errorf("within the interval: %d, %d fetches", status, workers.jwksFetches.Load())
	}
	time.Sleep(interval)
	if status, _, body := me(g, token); status != 200 || workers.jwksFetches.Load() != 3 || workers.operations.Load() != 1 {
		t.Errorf("after the interval: %d %v, %d fetches, %d operations", status, body, workers.jwksFetches.Load(), workers.operations.Load())
	}
	// The old key's tokens still pass, with no fetch.
	if status, _, _ := me(g, old.token(t, nil)); status != 200 || workers.jwksFetches.Load() != 3 {
		t.Errorf("old key: %d", status)
	}
}

func TestTheKeySetIsRefreshedPeriodicallyAndAnUnpublishedKeyRefused(t *testing.T) {
	server := startNATS(t)
	retired, active := newTestKey(t, "retired"), newTestKey(t, "active")
	workers := startStandIn(t, server, retired, active)
	g, v := verifyingGateway(t, server, func(v *verifier) { v.refreshEvery = 200 * time.Millisecond })
	if status, _, _ := me(g, retired.token(t, nil)); status != 200 {
		t.Fatalf("a published key: %d", status)
	}
	workers.publish(active)
	eventually(t, 3*time.Second, "the refresh", func() bool {
		keys, _ := v.snapshot()
		return len(keys) == 1
	})
	if status, _, _ := me(g, retired.token(t, nil)); status != 401 {
		t.Errorf("an unpublished key: %d", status)
	}
	if status, _, _ := me(g, active.token(t, nil)); status != 200 {
		t.Errorf("the active key: %d", status)
	}
}

func TestUntilTheKeySetIsFetchedTokensGet503AndTheGatewayIsNotReady(t *testing.T) {
	server := startNATS(t)
	key := newTestKey(t, "k1")
	workers := startStandIn(t, server, key)
	workers.set(func(s *standIn) { s.jwksError, s.jwksReply = "503", []byte(`{"code":"unavailable","message":"x"}`) })
	g, v := verifyingGateway(t, server, func(v *verifier) { v.retryEvery = 50 * time.Millisecond })
	for _, token := range []string{key.token(t, nil), "garbage.but.three"} {
		status, headers, body := me(g, token)
		details, _ := body["details"].(map[string]any)
		if status != 503 || body["code"] != "unavailable" || headers.Get("Retry-After") != "1" || details["retry_after_secs"] != 1.0 {
			t.Errorf("%d %v %v", status, headers, body)
		}
	}
	if status, _, body := call(g, "GET", "/readyz", nil, ""); status != 503 || !strings.Contains(body["status"].(string), "key set") {
		t.Errorf("readyz: %d %v", status, body)
	}
	if workers.operations.Load() != 0 {
		t.Errorf("%d requests reached a worker", workers.operations.Load())
	}
	// Without a token the worker answers, as ever.
	if status, _, _ := me(g, ""); status != 200 || workers.operations.Load() != 1 {
		t.Errorf("no token: %d", status)
	}
	// It keeps trying; once the set is there, tokens are judged.
	workers.set(func(s *standIn) { s.jwksError, s.jwksReply = "", nil })
	eventually(t, 3*time.Second, "the key set", v.hasKeys)
	if status, _, _ := me(g, key.token(t, nil)); status != 200 {
		t.Errorf("after the key set came: %d", status)
	}
	if status, _, _ := me(g, "garbage.but.three"); status != 401 {
		t.Errorf("garbage after the key set came: %d", status)
	}
	// A later failed fetch keeps the set it had; only an unknown kid,
	// which the failed fetch might have brought, is 503 then.
	workers.set(func(s *standIn) { s.jwksSilent = true })
	v.refresh(context.Background(), 0)
	if status, _, _ := me(g, key.token(t, nil)); status != 200 {
		t.Errorf("known key, failed refresh: %d", status)
	}
	v.mu.Lock()
	v.unknownKidEvery = time.Hour
	v.mu.Unlock()
	if status, _, _ := me(g, newTestKey(t, "k2").token(t, nil)); status != 503 {
		t.Errorf("unknown key, failed refresh: %d", status)
	}
}

func TestVerificationJudgesBearerOperationsOnly(t *testing.T) {
	server := startNATS(t)
	workers := startStandIn(t, server, newTestKey(t, "k1"))
	g, _ := verifyingGateway(t, server, nil)
	// Public operations do not read the header, so a stale token beside
	// a refresh token must not cost the refresh.
	headers := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer expired.or.garbage"}
	if status, _, body := call(g, "POST", "/v1/auth/refresh", headers, `{"refresh_token":"r"}`); status != 200 || workers.operations.Load() != 1 {
		t.Errorf("refresh with a bad access token: %d %v", status, body)
	}
	// Other schemes are the workers' to refuse.
	headers["Authorization"] = "Basic dXNlcjpwYXNz"
	if status, _, _ := call(g, "POST", "/v1/auth/me", headers, ""); status != 200 || workers.operations.Load() != 2 {
		t.Errorf("Basic: %d", status)
	}
}

func TestWithVerificationOffTokensAreNotInspected(t *testing.T) {
	server := startNATS(t)
	workers := startStandIn(t, server, newTestKey(t, "k1"))
	g, _ := natsGateway(t, server, time.Second)
	if g.tokens != nil {
		t.Fatal("verification is on by default")
	}
	for _, token := range []string{"not-a-token", "a.b.c", newTestKey(t, "unknown").token(t, nil)} {
		if status, _, _ := me(g, token); status != 200 {
			t.Errorf("%q: %d", token, status)
		}
	}
	if workers.operations.Load() != 3 || workers.jwksFetches.Load() != 0 {
		t.Errorf("%d operations reached the worker, %d key set fetches", workers.operations.Load(), workers.jwksFetches.Load())
	}
}

func TestTheOpenAPIDocumentListsTheKeySet(t *testing.T) {
	g := testGateway(t, "")
	var doc struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(g.openapiDocument, &doc); err != nil {
		t.Fatal(err)
	}
	get := doc.Paths[jwksPath]["get"]
	if get["operationId"] != "gateway.jwks" || len(get["security"].([]any)) != 0 {
		t.Fatalf("%v", get)
	}
	ok := get["responses"].(map[string]any)["200"].(map[string]any)
	schema := ok["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["$ref"].(string)
	name := strings.TrimPrefix(schema, "#/components/schemas/")
	if doc.Components.Schemas[name] == nil {
		t.Errorf("%s is not among the schemas", schema)
	}
	if _, ok := ok["headers"].(map[string]any)["Cache-Control"]; !ok {
		t.Error("the 200 response names its Cache-Control")
	}
}

func TestTheKeySetsSchemaIsTheSpecs(t *testing.T) {
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	reply := jwksSchema(spec)
	if reply == "" || spec.Schemas[reply] == nil {
		t.Fatalf("the spec has no auth.jwks with a reply schema (%q)", reply)
	}
	document, err := json.Marshal(openAPI(spec))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(document, &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Paths[jwksPath]["get"].Responses["200"].Content["application/json"].Schema.Ref
	if got != "#/components/schemas/"+reply {
		t.Errorf("the key set's schema is %q, not the spec's %q", got, reply)
	}
}

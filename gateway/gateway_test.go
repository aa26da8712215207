package main

import (
	"bytes"
	"encoding/json"

	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func testGateway(t *testing.T, proxies string) *Gateway {
	t.Helper()
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := parseCIDRs(proxies)
	if err != nil {
		t.Fatal(err)
	}
	// No NATS: these tests stop before a request would reach it.
	g, err := newGateway(nil, spec, "olympus", trusted, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestEveryOperationOfTheSpecHasItsRoute(t *testing.T) {
	g := testGateway(t, "")
	if len(g.routes) != len(g.spec.Operations) || len(g.routes) < 42 {
		t.Fatalf("%d routes for %d operations", len(g.routes), len(g.spec.Operations))
	}
	for _, path := range []string{"/v1/auth/login", "/v1/tenant/members.invite", "/v1/commerce/orders.create"} {
		if _, ok := g.routes[path]; !ok {
			t.Errorf("no route %s", path)
		}
	}
	op := g.routes["/v1/commerce/orders.create"]
	if !op.IdempotencyKey || op.Access != "bearer" || op.Request != "CreateOrderRequest" {
		t.Errorf("orders.create as read from the spec: %+v", op)
	}
}

func TestRequestsRefusedBeforeNATS(t *testing.T) {
	g := testGateway(t, "")
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/auth/nothing", "{}", 404, "not_found"},
		{"GET", "/v1/auth/me", "", 405, "bad_request"},
		{"POST", "/v1/auth/login", "{not json", 400, "bad_request"},
		{"POST", "/v1/auth/login", "[1, 2]", 400, "bad_request"},
		{"POST", "/v1/auth/login", "{} {}", 400, "bad_request"},
		{"POST", "/v1/auth/login", strings.Repeat("a", 256*1024+1), 413, "payload_too_large"},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/json")
		g.ServeHTTP(w, r)
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != c.status || body["code"] != c.code {
			t.Errorf("%s %s: %d %v, want %d %s", c.method, c.path, w.Code, body, c.status, c.code)
		}
		if body["correlation_id"] != w.Header().Get("X-Correlation-Id") || body["correlation_id"] == "" {
			t.Errorf("%s %s: correlation id %v vs header %q", c.method, c.path, body["correlation_id"], w.Header().Get("X-Correlation-Id"))
		}
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/v1/auth/login", strings.NewReader("<xml/>"))
	r.Header.Set("Content-Type", "application/xml")
	g.ServeHTTP(w, r)
	if w.Code != 415 {
		t.Errorf("xml: %d", w.Code)
	}
}

func TestCorrelationIDsAreKeptWhenValidAndMadeOtherwise(t *testing.T) {
	g := testGateway(t, "")
	for given, kept := range map[string]bool{"req-1:a.b_c": true, "": false, "has space": false, strings.Repeat("x", 129): false} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/healthz", nil)
		if given != "" {
			r.Header.Set("X-Correlation-Id", given)
		}
		g.ServeHTTP(w, r)
		got := w.Header().Get("X-Correlation-Id")
		if (got == given) != kept || !correlationID.MatchString(got) {
			t.Errorf("given %q: got %q", given, got)
		}
	}
}

func TestClientIPBelievesForwardedForOnlyFromTrustedProxies(t *testing.T) {
	direct := testGateway(t, "")
	proxied := testGateway(t, "10.0.0.0/8, 127.0.0.1")
	request := func(remote, forwarded string) *http.Request {
		r := httptest.NewRequest("POST", "/v1/auth/login", nil)
		r.RemoteAddr = remote
		if forwarded != "" {
			r.Header.Set("X-Forwarded-For", forwarded)
		}
		return r
	}
	cases := []struct {
		g               *Gateway
		remote, xff, ip string
	}{
		{direct, "192.0.2.1:5000", "203.0.113.9", "192.0.2.1"},
		{proxied, "192.0.2.1:5000", "203.0.113.9", "192.0.2.1"},
		{proxied, "10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},
		{proxied, "10.1.2.3:5000", "198.51.100.4, 203.0.113.9, 10.0.0.7", "203.0.113.9"},
		{proxied, "127.0.0.1:5000", "not-an-ip", "127.0.0.1"},
		{proxied, "10.1.2.3:5000", "", "10.1.2.3"},
		{direct, "[2001:db8::1]:443", "", "2001:db8::1"},
	}
	for _, c := range cases {
		if got := c.g.clientIP(request(c.remote, c.xff)); got != c.ip {
			t.Errorf("remote %s, X-Forwarded-For %q: %q, want %q", c.remote, c.xff, got, c.ip)
		}
	}
	if _, err := parseCIDRs("10.0.0.0/33"); err == nil {
		t.Error("a bad CIDR is refused")
	}
}

func TestJSONBecomesMessagePackWithIntegersKept(t *testing.T) {
	packed, err := jsonToMsgpack([]byte(`{"price": {"amount": 1299, "currency": "EUR"}, "ratio": 0.5, "items": [{"quantity": 3}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if packed[0]&0xf0 != 0x80 {
		t.Fatalf("not a map: % x", packed[:1])
	}
	var back map[string]any
	if err := msgpack.Unmarshal(packed, &back); err != nil {
		t.Fatal(err)
	}
	amount, ok := asInt(back["price"].(map[string]any)["amount"])
	if !ok || amount != 1299 {
		t.Errorf("amount %#v", back["price"])
	}
	if back["ratio"] != 0.5 {
		t.Errorf("ratio %#v", back["ratio"])
	}
	empty, err := jsonToMsgpack([]byte("  "))
	if err != nil || !bytes.Equal(empty, []byte{0x80}) {
		t.Errorf("an empty body is {}: % x %v", empty, err)
	}
}

func TestStatusesComeFromTheWorkersErrorCode(t *testing.T) {
	cases := []struct {
		code       string
		body       any
		status     int
		retryAfter string
	}{
		{"", map[string]any{"user": "x"}, 200, ""},
		{"422", map[string]any{"code": "validation_failed"}, 422, ""},
		{"429", map[string]any{"code": "rate_limited", "details": map[string]any{"retry_after_secs": uint8(42)}}, 429, "42"},
		{"503", map[string]any{"code": "unavailable", "details": map[string]any{"retry_after_secs": int64(1)}}, 503, "1"},
		{"200", nil, 502, ""},
		{"teapot", nil, 502, ""},
	}
	for _, c := range cases {
		status, retryAfter := replyStatus(c.code, c.body)
		if status != c.status || retryAfter != c.retryAfter {
			t.Errorf("%q: %d %q, want %d %q", c.code, status, retryAfter, c.status, c.retryAfter)
		}
	}
}

func TestUserAgentsAreCutAtACharacterBoundary(t *testing.T) {
	agent := strings.Repeat("a", 511) + "é"
	if got := truncate(agent, 512); got != strings.Repeat("a", 511) {
		t.Errorf("%q", got)
	}
	if truncate("short", 512) != "short" {
		t.Error("short agents stay")
	}
}

func TestTheOpenAPIDocumentNamesEveryOperation(t *testing.T) {
	g := testGateway(t, "")
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(g.openapiDocument, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for _, op := range g.spec.Operations {
		post := doc.Paths[routePath(op)]["post"]
		if post["operationId"] != op.Service+"."+op.Operation {
			t.Errorf("%s: %v", routePath(op), post["operationId"])
		}
	}
	if bytes.Contains(g.openapiDocument, []byte(`"#/schemas/`)) {
		t.Error("a reference was left pointing into the spec")
	}
}

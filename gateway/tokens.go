package main

// Local verification of access tokens (-verify-tokens, off by default).
// With it on, the token of a bearer operation is checked here against the
// published key set (contract §4, `auth.jwks`) before anything reaches
// NATS, so a forged, expired or foreign token costs the workers nothing.
// It is a filter, not the authority: a token that passes still goes to
// the worker, which checks it again, and only the workers know which
// sessions are revoked.
//
// The key set is fetched at start (again every second until that
// succeeds; meanwhile tokens get 503, not 401, since none can be judged),
// then every minute; a token whose kid is not in the set makes it fetch
// again, at most once every 5 seconds, before the token is refused, so a
// key published since the last fetch is found at once.

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/nats-io/nats.go"
)

const (
	// accessTokenType is the `typ` header of access tokens (RFC 9068).
	accessTokenType = "at+jwt"
	// tokenLeeway is the clock difference allowed on exp and nbf, in
	// seconds: the workers' (LEEWAY_SECS).
	tokenLeeway = 5
	// keyRefreshInterval: how old the key set may grow. Operators keep a
	// new key published on standby for 10 minutes before it signs, so it
	// is known here long before its first token; a revoked one is refused
	// here within this interval, by the workers within a second.
	keyRefreshInterval = time.Minute
	// keyRetryInterval: how soon a failed fetch is tried again.
	keyRetryInterval = time.Second
	// unknownKidInterval: a kid not in the set fetches it again at most this
	// often (contract §4: "at most once every few seconds"), whoever sends
	// made-up kids.
	unknownKidInterval = 5 * time.Second
)

// verifier checks access tokens against the published key set, which it
// keeps fresh.
type verifier struct {
	nc       *nats.Conn
	prefix   string
	issuer   string
	audience string
	timeout  time.Duration // of one fetch
	now      func() time.Time
	parser   *jwt.Parser
	// The intervals above; tests shorten them.
	refreshEvery, retryEvery, unknownKidEvery time.Duration

	mu        sync.Mutex
	keys      map[string]ed25519.PublicKey // nil until a fetch succeeds
	current   bool                         // whether the latest fetch succeeded
	attempted time.Time                    // when the latest fetch started
	inflight  chan struct{}                // closed when the running fetch ends; nil when none runs
	failures  int                          // consecutive failed fetches, for the log
}

func newVerifier(nc *nats.Conn, prefix, issuer, audience string, timeout time.Duration) *verifier {
	return &verifier{
		nc: nc, prefix: prefix, issuer: issuer, audience: audience, timeout: timeout, now: time.Now,
		// Exactly one algorithm; the claims are checked in check, with
		// the workers' leeway (the library has none).
		parser:       jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithoutClaimsValidation()),
		refreshEvery: keyRefreshInterval, retryEvery: keyRetryInterval, unknownKidEvery: unknownKidInterval,
	}
}

// run keeps the key set fresh until ctx ends.
func (v *verifier) run(ctx context.Context) {
	for {
		v.refresh(ctx, 0)
		v.mu.Lock()
		wait := v.refreshEvery
		if !v.current {
			wait = v.retryEvery
		}
		v.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// refresh fetches the key set, unless the latest fetch started less than
// minInterval ago. A fetch already running is waited for (until ctx ends)
// instead of starting another, so many callers cost one fetch.
func (v *verifier) refresh(ctx context.Context, minInterval time.Duration) {
	v.mu.Lock()
	if done := v.inflight; done != nil {
		v.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		return
	}
	if !v.attempted.IsZero() && time.Since(v.attempted) < minInterval {
		v.mu.Unlock()
		return
	}
	done := make(chan struct{})
	v.inflight, v.attempted = done, time.Now()
	v.mu.Unlock()

	// Not the caller's context: others may be waiting for this fetch.
	fetchCtx, cancel := context.WithTimeout(context.Background(), v.timeout)
	keys, err := fetchKeySet(fetchCtx, v.nc, v.prefix)
	cancel()

	v.mu.Lock()
	before := v.keys
	if err == nil {
		v.keys, v.current, v.failures = keys, true, 0
	} else {
		v.current = false
		v.failures++
	}
	failures := v.failures
	v.inflight = nil
	close(done)
	v.mu.Unlock()

	switch {
	case err != nil && (failures == 1 || failures%60 == 0):
		if before == nil {
			log.Printf("olympus-gateway: fetching the access-token key set (auth.jwks): %v; requests with a token get 503 until it succeeds (try %d)", err, failures)
		} else {
			log.Printf("olympus-gateway: fetching the access-token key set (auth.jwks): %v; the %d keys fetched before stay (try %d)", err, len(before), failures)
		}
	case err == nil && !sameKids(before, keys):
		log.Printf("olympus-gateway: access-token key set: %s", kidList(keys))
	}
}

// hasKeys: whether a key set was ever fetched.
func (v *verifier) hasKeys() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.keys != nil
}

func (v *verifier) snapshot() (map[string]ed25519.PublicKey, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.keys, v.current
}

// accessClaims: what the gateway checks of an access token's claims (the
// workers read the rest). The types are the workers': aud one string,
// times whole seconds.
type accessClaims struct {
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	ExpiresAt *int64 `json:"exp"`
	NotBefore *int64 `json:"nbf"`
}

// Valid is the library's claims check, turned off (WithoutClaimsValidation):
// check does it, with leeway.
func (*accessClaims) Valid() error { return nil }

var (
	errWrongType  = errors.New("typ is not " + accessTokenType)
	errUnknownKey = errors.New("kid not in the key set")
)

// check judges the Authorization header of a bearer operation: nil when
// it carries no bearer token (the worker answers that) or a token that
// passes; otherwise the workers' 401, or 503 while the key set is unknown.
func (v *verifier) check(ctx context.Context, authorization string) *refusal {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return nil
	}
	token = strings.TrimSpace(token)
	// The workers' words, whatever the reason: a caller learns nothing
	// about which check failed.
	unauthenticated := refuse(http.StatusUnauthorized, "unauthenticated", "a valid access token is required")
	unavailable := &refusal{http.StatusServiceUnavailable, "unavailable",
		"the access tokens' signing keys are not known right now; the request was not sent",
		map[string]any{"retry_after_secs": 1}}
	// A JWS has exactly three parts; anything else is refused before the
	// library splits it (it allocates per dot, CVE-2025-30204).
	if strings.Count(token, ".") != 2 {
		return unauthenticated
	}
	keys, current := v.snapshot()
	if keys == nil {
		return unavailable
	}
	claims, unknownKid, err := v.verify(token, keys)
	if unknownKid != "" {
		v.refresh(ctx, v.unknownKidEvery)
		keys, current = v.snapshot()
		if _, known := keys[unknownKid]; known {
			claims, _, err = v.verify(token, keys)
		} else if !current {
			// The latest fetch failed: the key may exist.
			return unavailable
		}
	}
	if err != nil {
		return unauthenticated
	}
	// As the workers: exp + leeway <= now is expired, nbf - leeway > now
	// not yet valid (written so that no sum overflows).
	now := v.now().Unix()
	if claims.Issuer != v.issuer || claims.Audience != v.audience ||
		claims.ExpiresAt == nil || *claims.ExpiresAt <= now-tokenLeeway ||
		claims.NotBefore == nil || *claims.NotBefore > now+tokenLeeway {
		return unauthenticated
	}
	return nil
}

// verify checks a token's algorithm (the parser's), type, key and
// signature against keys; unknownKid names its kid when that is what is
// missing from keys.
func (v *verifier) verify(token string, keys map[string]ed25519.PublicKey) (claims *accessClaims, unknownKid string, err error) {
	claims = &accessClaims{}
	_, err = v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if t.Method.Alg() != jwt.SigningMethodEdDSA.Alg() {
			return nil, jwt.ErrSignatureInvalid // the parser refused it already
		}
		if typ, _ := t.Header["typ"].(string); typ != accessTokenType {
			return nil, errWrongType
		}
		kid, _ := t.Header["kid"].(string)
		key, ok := keys[kid]
		if !ok {
			if kid != "" {
				unknownKid = kid
			}
			return nil, errUnknownKey
		}
		return key, nil
	})
	return claims, unknownKid, err
}

func sameKids(a, b map[string]ed25519.PublicKey) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for kid, key := range a {
		if other, ok := b[kid]; !ok || !key.Equal(other) {
			return false
		}
	}
	return true
}

// kidList: "2 keys: a, b" for the log (kids are public).
func kidList(keys map[string]ed25519.PublicKey) string {
	kids := make([]string, 0, len(keys))
	for kid := range keys {
		kids = append(kids, escapeLog(kid))
	}
	sort.Strings(kids)
	if len(kids) == 1 {
		return "1 key: " + kids[0]
	}
	return strconv.Itoa(len(kids)) + " keys: " + strings.Join(kids, ", ")
}

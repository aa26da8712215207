//! The Go gateway (`gateway/`): HTTP in front of the mesh, tested from an
//! HTTP client against real workers.
//!
//! The gateway is built once per test process with the pinned Go and the
//! vendored libraries (`tools/test` installs the Go), as the README says
//! ([`olympus_tests::gateway::binary`]). The edge's framing is tested over
//! raw sockets ([`raw`]): what a front proxy or an attacker sends, byte for
//! byte.

use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app, with_app_opts, Options, TestApp};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::OLYMPUS;

/// A running gateway; stopped with SIGTERM on drop of [`Gateway::stop`].
struct Gateway {
    child: tokio::process::Child,
    addr: String,
    log: tokio::task::JoinHandle<Vec<String>>,
}

impl Gateway {
    async fn start(app: &TestApp, prefix: &str, extra: &[&str]) -> Self {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let addr = format!("127.0.0.1:{port}");
        let mut child = tokio::process::Command::new(olympus_tests::gateway::binary().await)
            .args(["-addr", &addr, "-subject-prefix", prefix])
            .args(extra)
            .env("NATS_URL", &app.nats_url)
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let log = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut log = Vec::new();
            let mut ready = Some(ready_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("olympus-gateway ready") {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                log.push(line);
            }
            log
        });
        let ready = tokio::time::timeout(Duration::from_secs(10), ready_rx).await;
        if !matches!(ready, Ok(Ok(()))) {
            let _ = child.kill().await;
            let log = log.await.unwrap_or_default();
            panic!(
                "the gateway did not get ready; its log:\n{}",
                log.join("\n")
            );
        }
        Self { child, addr, log }
    }

    /// One HTTP/1.1 request; the status, headers (lower-cased) and body.
    async fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, HashMap<String, String>, Vec<u8>) {
        olympus_tests::http::request(&self.addr, method, path, headers, body).await
    }

    /// `POST /v1/{op}` with a JSON body; the status, headers and JSON reply.
    async fn post(
        &self,
        op: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Value,
    ) -> (u16, HashMap<String, String>, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        if let Some(auth) = &auth {
            all.push(("Authorization", auth));
        }
        all.extend_from_slice(headers);
        let (status, headers, body) = self
            .http(
                "POST",
                &format!("/v1/{op}"),
                &all,
                body.to_string().as_bytes(),
            )
            .await;
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, headers, json)
    }

    async fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().unwrap();
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the gateway stops within 20 s of SIGTERM")
            .unwrap();
        assert!(status.success(), "the gateway exits cleanly on SIGTERM");
        self.log.await.unwrap()
    }
}

#[tokio::test]
async fn every_operation_is_reachable_over_http_in_json_with_the_contracts_statuses() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut serve = app.serve_process(OLYMPUS, &[]).await;
        let gw = Gateway::start(app, &app.prefix, &[]).await;
        let slug = format!("gw-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let email = format!("ada@{slug}.example.com");
        let (status, headers, signup) = gw
            .post(
                "tenant/create",
                None,
                &[("X-Correlation-Id", "gw-test:1"), ("User-Agent", "curl/8.0")],
                json!({"slug": slug, "name": "Acme", "owner": {"email": email, "password": GOOD_PASSWORD}}),
            )
            .await;
        assert_eq!(status, 200, "{signup}");
        assert_eq!(headers["x-correlation-id"], "gw-test:1");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(signup["tokens"]["token_type"], "Bearer");
        assert!(signup["tokens"]["expires_in"].is_u64());
        let token = signup["tokens"]["access_token"].as_str().unwrap().to_owned();

        // Money stays an integer of minor units; ids and times are strings.
        let (status, _, product) = gw
            .post(
                "commerce/products.create",
                Some(&token),
                &[],
                json!({"sku": "GW-1", "name": "Mug", "price": {"amount": 1299, "currency": "EUR"}, "stock": 3}),
            )
            .await;
        assert_eq!(status, 200, "{product}");
        assert_eq!(product["product"]["price"], json!({"amount": 1299, "currency": "EUR"}));
        assert!(product["product"]["created_at"].as_str().unwrap().ends_with('Z'));

        // Errors: the worker's status and coded body, a generated correlation id.
        let (status, headers, body) = gw.post("auth/me", None, &[], json!({})).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "unauthenticated");
        assert_eq!(body["correlation_id"].as_str(), Some(headers["x-correlation-id"].as_str()));
        let (status, _, body) = gw
            .post("commerce/products.create", Some(&token), &[], json!({"sku": "", "name": "x", "price": {"amount": 1, "currency": "EUR"}}))
            .await;
        assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")));
        let (status, _, body) = gw
            .post("commerce/products.create", Some(&token), &[], json!({"sku": "GW-1", "name": "x", "price": {"amount": 1, "currency": "EUR"}}))
            .await;
        assert_eq!((status, body["details"]["field"].as_str()), (409, Some("sku")));
        let (status, _, body) = gw
            .http("POST", "/v1/auth/login", &[("Content-Type", "application/json")], b"{not json")
            .await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        let (status, _, _) = gw.http("GET", "/v1/auth/me", &[], b"").await;
        assert_eq!(status, 405);
        let (status, _, _) = gw.http("POST", "/v1/auth/nothing", &[], b"{}").await;
        assert_eq!(status, 404);

        // Over 256 KiB: 413, and no worker sees it.
        let big = vec![b'a'; 300 * 1024];
        let (status, _, body) = gw
            .http("POST", "/v1/auth/login", &[("Content-Type", "application/json")], &big)
            .await;
        assert_eq!(status, 413);
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["code"], "payload_too_large");

        // Idempotency-Key goes through: a retried order is the same order.
        let order = json!({"items": [{"product_id": product["product"]["id"], "quantity": 1}]});
        let key = [("Idempotency-Key", "gw-order-1")];
        let (status, _, first) = gw.post("commerce/orders.create", Some(&token), &key, order.clone()).await;
        assert_eq!(status, 200, "{first}");
        let (_, _, again) = gw.post("commerce/orders.create", Some(&token), &key, order).await;
        assert_eq!(first, again);
        let (_, _, stock) = gw
            .post("commerce/products.get", Some(&token), &[], json!({"id": product["product"]["id"]}))
            .await;
        assert_eq!(stock["product"]["stock"], 2, "one unit reserved, once");

        // login -> me -> refresh -> logout.
        let (status, _, login) = gw
            .post("auth/login", None, &[], json!({"tenant": slug, "email": email, "password": GOOD_PASSWORD}))
            .await;
        assert_eq!(status, 200);
        let access = login["tokens"]["access_token"].as_str().unwrap().to_owned();
        let refresh = login["tokens"]["refresh_token"].as_str().unwrap().to_owned();
        let (status, _, me) = gw.post("auth/me", Some(&access), &[], json!({})).await;
        assert_eq!((status, me["user"]["email"].as_str()), (200, Some(email.as_str())));
        let (status, _, refreshed) = gw
            .post("auth/refresh", None, &[], json!({"refresh_token": refresh}))
            .await;
        assert_eq!(status, 200);
        let next = refreshed["tokens"]["refresh_token"].as_str().unwrap();
        let (status, _, _) = gw.post("auth/logout", None, &[], json!({"refresh_token": next})).await;
        assert_eq!(status, 200);
        let (status, _, body) = gw.post("auth/refresh", None, &[], json!({"refresh_token": next})).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("invalid_token")));

        // The session's client address is the connection's; a client's own
        // X-Forwarded-For is not believed.
        let (_, _, login) = gw
            .post(
                "auth/login",
                None,
                &[("X-Forwarded-For", "203.0.113.9"), ("User-Agent", "gateway-test/1.0")],
                json!({"tenant": slug, "email": email, "password": GOOD_PASSWORD}),
            )
            .await;
        let token = login["tokens"]["access_token"].as_str().unwrap().to_owned();
        let (_, _, sessions) = gw.post("auth/sessions.list", Some(&token), &[], json!({})).await;
        let current = sessions["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .unwrap()
            .clone();
        assert_eq!(current["ip"], "127.0.0.1");
        assert_eq!(current["user_agent"], "gateway-test/1.0");

        // Ready while the workers answer, healthy always.
        assert_eq!(gw.http("GET", "/healthz", &[], b"").await.0, 200);
        assert_eq!(gw.http("GET", "/readyz", &[], b"").await.0, 200);
        let log = gw.stop().await;
        assert!(log.iter().any(|l| l.contains("olympus-gateway stopped")));
        assert!(!log.iter().any(|l| l.contains(GOOD_PASSWORD) || l.contains(&token)));
        assert!(serve.terminate().await.success());
    })
    .await;
}

/// The gateway's own Go tests (routing, status mapping, the edge's rules,
/// NATS outages against a private nats-server), run by `go test` with the
/// pinned Go; each must pass.
#[tokio::test]
async fn the_gateways_go_tests_pass() {
    let tested = olympus_tests::gateway::go_command()
        .args(["test", "-count=1", "-v", "."])
        .output()
        .await
        .expect("running go test");
    let stdout = String::from_utf8_lossy(&tested.stdout);
    assert!(
        tested.status.success(),
        "go test:\n{stdout}\n{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    let passed = stdout.lines().filter(|l| l.starts_with("--- PASS")).count();
    assert!(passed >= 15, "the Go tests ran:\n{stdout}");
    println!("{stdout}");
}

#[tokio::test]
async fn a_trusted_proxy_is_believed_and_missing_or_slow_workers_are_503_and_504() {
    with_app(async |app| {
        // Behind a trusted proxy (here: the loopback address itself).
        let gw = Gateway::start(app, &app.prefix, &["-trusted-proxies", "127.0.0.1/32"]).await;
        let slug = format!("gw-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let email = format!("ada@{slug}.example.com");
        let (_, _, signup) = gw
            .post(
                "tenant/create",
                None,
                &[("X-Forwarded-For", "198.51.100.4, 203.0.113.7")],
                json!({"slug": slug, "name": "Acme", "owner": {"email": email, "password": GOOD_PASSWORD}}),
            )
            .await;
        let token = signup["tokens"]["access_token"].as_str().unwrap();
        let (_, _, sessions) = gw.post("auth/sessions.list", Some(token), &[], json!({})).await;
        assert_eq!(sessions["items"][0]["ip"], "203.0.113.7", "the rightmost untrusted hop");
        gw.stop().await;

        // No worker on this prefix: 503 with Retry-After, and not ready.
        let lonely = Gateway::start(app, "nobody", &[]).await;
        let (status, headers, body) = lonely.post("auth/me", None, &[], json!({})).await;
        assert_eq!((status, body["code"].as_str()), (503, Some("unavailable")));
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(lonely.http("GET", "/readyz", &[], b"").await.0, 503);
        lonely.stop().await;

        // A worker that never answers: 504.
        let mut silent = app.nats.subscribe("slow.auth.v1.me").await.unwrap();
        let slow = Gateway::start(app, "slow", &["-timeout", "300ms"]).await;
        let (status, headers, body) = slow.post("auth/me", None, &[], json!({})).await;
        assert_eq!((status, body["code"].as_str()), (504, Some("unavailable")));
        // Sent, so its outcome is unknown (contract §3); retry later.
        assert_eq!(body["details"]["outcome"], "unknown", "{body}");
        assert_eq!(headers.get("retry-after").map(String::as_str), Some("1"));
        let asked = futures::StreamExt::next(&mut silent).await.unwrap();
        let headers = asked.headers.unwrap();
        assert_eq!(headers.get("Content-Type").unwrap().as_str(), "application/msgpack");
        assert_eq!(headers.get("X-Client-Ip").unwrap().as_str(), "127.0.0.1");
        slow.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_operation_and_passes_a_real_validator() {
    with_app(async |app| {
        let gw = Gateway::start(app, &app.prefix, &[]).await;
        let (status, _, body) = gw.http("GET", "/openapi.json", &[], b"").await;
        assert_eq!(status, 200);
        let document: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        let spec = olympus_contracts::spec::Spec::v1();
        for op in &spec.operations {
            let path = format!("/v1/{}/{}", op.service, op.operation);
            let post = &document["paths"][&path]["post"];
            assert_eq!(post["operationId"], format!("{}.{}", op.service, op.operation));
            assert_eq!(
                post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
                format!("#/components/schemas/{}", op.request)
            );
            assert_eq!(post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody");
            let keyed = post["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["$ref"] == "#/components/parameters/IdempotencyKey");
            assert_eq!(keyed, op.idempotency_key, "{path}");
        }
        let file = std::env::temp_dir().join(format!("olympus-openapi-{}.json", std::process::id()));
        std::fs::write(&file, &body).unwrap();
        let validated = tokio::process::Command::new("python3")
            .args([
                "-c",
                "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))",
            ])
            .arg(&file)
            .output()
            .await
            .unwrap();
        let _ = std::fs::remove_file(&file);
        assert!(
            validated.status.success(),
            "openapi-spec-validator: {}",
            String::from_utf8_lossy(&validated.stderr)
        );
        gw.stop().await;
    })
    .await;
}

/// Raw HTTP/1.1 framing a front proxy may read otherwise than the gateway
/// (RFC 9112 §6.1, §7.1): Content-Length and Transfer-Encoding together,
/// bare LF in a chunk line, chunk extensions without bound, and requests
/// pipelined behind them. On a prefix with no worker, a request the
/// gateway took as framed would be 503 (no responders): a refusal is 400.
#[tokio::test]
async fn framing_that_could_smuggle_a_request_is_refused_or_ends_the_connection() {
    with_app_opts(Options::without_workers(), async |app| {
        use olympus_tests::http::exchange;
        let gw = Gateway::start(app, "nobody", &[]).await;
        let quiet = Duration::from_millis(1500);

        // Both headers: a proxy that frames by Content-Length sends the
        // GET as the POST's body; the gateway answers the POST alone, then
        // closes the connection, so the GET is never read as a request.
        let smuggled = b"POST /v1/auth/nothing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
            Content-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n\
            0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        let (responses, closed) = exchange(&gw.addr, smuggled, quiet).await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.0).collect();
        assert_eq!(statuses, [404], "the smuggled GET was answered");
        assert_eq!(responses[0].1["connection"], "close");
        assert!(closed, "the connection stays open after both headers");

        // Bare LF ending a chunk line (CVE-2025-22871), and chunk
        // extensions far larger than the data they carry (CVE-2023-39326:
        // 64 one-byte chunks of `{` spaces `}` with 4,000 bytes of extension
        // each): the body is not read.
        let chunked = "POST /v1/auth/me HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
            Transfer-Encoding: chunked\r\n\r\n";
        let bare_lf = format!("{chunked}2\n{{}}\r\n0\r\n\r\n");
        let padded = format!("{{{}}}", " ".repeat(62));
        let extension = padded.chars().fold(chunked.to_owned(), |raw, c| {
            format!("{raw}1;{}\r\n{c}\r\n", "x".repeat(4000))
        }) + "0\r\n\r\n";
        for (what, raw) in [("bare LF", bare_lf), ("chunk extensions", extension)] {
            let (responses, closed) = exchange(&gw.addr, raw.as_bytes(), quiet).await;
            let statuses: Vec<u16> = responses.iter().map(|r| r.0).collect();
            assert_eq!(statuses, [400], "{what}");
            let body: Value = serde_json::from_slice(&responses[0].2).unwrap();
            assert_eq!(body["code"], "bad_request", "{what}: {body}");
            assert!(closed, "{what}: the connection is closed");
        }

        // Pipelining as it should be: two requests, two replies in order.
        let two = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
        let (responses, _) = exchange(&gw.addr, two, quiet).await;
        assert_eq!(responses.len(), 2);
        assert_eq!(responses[0].2, br#"{"status":"ok"}"#);
        assert!(responses[1].2.starts_with(b"{\n  \"components\""));

        // A body refused by its declared length is not read as requests.
        let mut big = b"POST /v1/auth/me HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
            Content-Length: 300000\r\n\r\n"
            .to_vec();
        for _ in 0..1000 {
            big.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        let (responses, _) = exchange(&gw.addr, &big, quiet).await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.0).collect();
        assert_eq!(statuses, [413]);

        gw.stop().await;
    })
    .await;
}

/// A header value with a byte outside visible ASCII (0x80-0xFF among
/// them) is refused with 400 naming the header: forwarded into a NATS
/// header it would take the worker's NATS connection down. Nothing of it
/// reaches NATS, and the worker answers the next request.
#[tokio::test]
async fn header_bytes_outside_visible_ascii_are_400_and_never_reach_a_worker() {
    with_app(async |app| {
        let gw = Gateway::start(app, &app.prefix, &[]).await;
        let subject = format!("{}.auth.v1.me", app.prefix);
        let mut seen = app.nats.subscribe(subject).await.unwrap();
        app.nats.flush().await.unwrap();
        let cases: [(&str, &[u8]); 5] = [
            ("User-Agent", b"caf\xe9/1.0"),
            ("Authorization", b"Bearer \xff\xfe"),
            ("Idempotency-Key", b"key-\x80"),
            ("traceparent", b"00-\xc3\xa9-01"),
            ("User-Agent", b"tab\there"),
        ];
        for (name, value) in cases {
            let mut raw =
                b"POST /v1/auth/me HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 2\r\nConnection: close\r\n"
                    .to_vec();
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(b": ");
            raw.extend_from_slice(value);
            raw.extend_from_slice(b"\r\n\r\n{}");
            let (responses, _) =
                olympus_tests::http::exchange(&gw.addr, &raw, Duration::from_secs(5)).await;
            assert_eq!(responses.len(), 1, "{name}: {value:?}");
            let body: Value = serde_json::from_slice(&responses[0].2).unwrap();
            assert_eq!(
                (
                    responses[0].0,
                    body["code"].as_str(),
                    body["details"]["header"].as_str()
                ),
                (400, Some("bad_request"), Some(name)),
                "{name}: {value:?}: {body}"
            );
        }
        let stray = tokio::time::timeout(
            Duration::from_millis(300),
            futures::StreamExt::next(&mut seen),
        )
        .await;
        assert!(stray.is_err(), "a refused request reached NATS");

        // The worker is still there, and a clean request reaches it.
        let (status, _, body) = gw
            .post("auth/me", None, &[("User-Agent", "clean/1.0")], json!({}))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("unauthenticated"))
        );
        gw.stop().await;
    })
    .await;
}

/// While the gateway's NATS is away, a request is answered 503 with
/// Retry-After at once (not held for the time-out) and is never sent: when
/// NATS returns, the tenant that a refused `tenant.create` asked for does
/// not exist, and the same request then creates it.
#[tokio::test]
async fn while_nats_is_down_requests_are_503_at_once_and_never_run_after_it_returns() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut private = olympus_tests::nats_server::PrivateNats::start().await;
        let url = private.url();
        let mut serve = app.serve_process_with(OLYMPUS, &[], &[("NATS_URL", url.as_str())]).await;
        let gw = Gateway::start(app, &app.prefix, &["-nats-url", &url]).await;
        let ready = async |what: &str| {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while gw.http("GET", "/readyz", &[], b"").await.0 != 200 {
                assert!(std::time::Instant::now() < deadline, "not ready {what}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        ready("at the start").await;

        private.stop().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let slug = format!("gw-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let create = json!({"slug": slug, "name": "Acme", "owner": {"email": format!("ada@{slug}.example.com"), "password": GOOD_PASSWORD}});
        let started = std::time::Instant::now();
        let (status, headers, body) = gw.post("tenant/create", None, &[], create.clone()).await;
        let took = started.elapsed();
        assert_eq!((status, body["code"].as_str()), (503, Some("unavailable")), "{body}");
        assert_eq!(headers["retry-after"], "1");
        assert!(took < Duration::from_secs(1), "503 after {took:?}, not at once");

        private.resume().await;
        ready("after NATS returned").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let created: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants WHERE slug = $1")
            .bind(&slug)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(created, 0, "the request refused while NATS was down ran after it returned");
        let (status, _, body) = gw.post("tenant/create", None, &[], create).await;
        assert_eq!(status, 200, "{body}");

        gw.stop().await;
        assert!(serve.terminate().await.success());
    })
    .await;
}

/// The edge's rules over HTTP against real workers, each checked and all
/// failures listed together: percent-encoded paths are 404 and logged
/// escaped; the probes and the document take GET and HEAD only; the body
/// must be declared JSON and be exactly one object in valid UTF-8 with no
/// field twice, refused in the contract's words; every reply has
/// `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`; 40
/// calls of /readyz send one `$SRV.PING`.
#[tokio::test]
async fn the_edge_refuses_what_the_contract_does_not_allow_in_its_own_words() {
    with_app(async |app| {
        let gw = Gateway::start(app, &app.prefix, &[]).await;
        let mut failures: Vec<String> = Vec::new();
        let json_type = ("Content-Type", "application/json");

        // Percent-encoded paths: not routed, whatever they decode to.
        for path in ["/v1/tenant%2Fsuspend", "/v1/auth/%6De", "/v1%2Fauth%2Fme", "/v1/auth/me%0A"] {
            let (status, _, _) = gw.http("POST", path, &[json_type], b"{}").await;
            if status != 404 {
                failures.push(format!("POST {path}: {status}, want 404"));
            }
        }
        // Probes and the document: GET and HEAD only.
        for path in ["/healthz", "/readyz", "/openapi.json"] {
            for method in ["POST", "DELETE"] {
                let (status, headers, _) = gw.http(method, path, &[json_type], b"").await;
                if status != 405 || headers.get("allow").map(String::as_str) != Some("GET, HEAD") {
                    failures.push(format!("{method} {path}: {status}, want 405 with Allow: GET, HEAD"));
                }
            }
        }
        // The body's type: application/json, declared.
        for content_type in [None, Some("application/jsonp"), Some("text/plain")] {
            let headers: Vec<(&str, &str)> = content_type.map(|t| ("Content-Type", t)).into_iter().collect();
            let (status, _, body) = gw.http("POST", "/v1/auth/me", &headers, b"{}").await;
            let code = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null)["code"].clone();
            if status != 415 || code != "unsupported_media_type" {
                failures.push(format!("Content-Type {content_type:?}: {status} {code}, want 415"));
            }
        }
        // The body: one JSON object, valid UTF-8, no field twice, and the
        // reply in the contract's words, never the parser's.
        let bodies: [&[u8]; 6] = [
            br#"{"limit":1000,"limit":1}"#,
            br#"{}]"#,
            br#"{}}"#,
            b"{\"x\":\"caf\xe9\"}",
            br#"{"x":"\ud800"}"#,
            b"x",
        ];
        for sent in bodies {
            let (status, _, body) = gw.http("POST", "/v1/tenant/list", &[json_type], sent).await;
            let body = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
            let message = body["message"].as_str().unwrap_or("");
            let internal = ["invalid character", "looking for", "json:", "unexpected"]
                .iter()
                .any(|w| message.contains(w));
            if status != 400 || body["code"] != "bad_request" || internal {
                failures.push(format!("body {:?}: {status} {body}, want 400 bad_request in the contract's words", String::from_utf8_lossy(sent)));
            }
        }
        // Every reply: not stored, not sniffed (a token reply among them).
        let slug = format!("gw-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (_, headers, signup) = gw
            .post(
                "tenant/create",
                None,
                &[],
                json!({"slug": slug, "name": "Acme", "owner": {"email": format!("ada@{slug}.example.com"), "password": GOOD_PASSWORD}}),
            )
            .await;
        assert!(signup["tokens"]["access_token"].is_string(), "{signup}");
        let mut replies = vec![("tenant.create", headers)];
        for path in ["/healthz", "/openapi.json", "/v1/auth/nothing"] {
            replies.push((path, gw.http("GET", path, &[], b"").await.1));
        }
        for (what, headers) in replies {
            if headers.get("cache-control").map(String::as_str) != Some("no-store")
                || headers.get("x-content-type-options").map(String::as_str) != Some("nosniff")
            {
                failures.push(format!("{what}: no Cache-Control: no-store or nosniff"));
            }
        }
        // /readyz: one $SRV.PING for 40 calls within a second.
        let mut pings = app.nats.subscribe("$SRV.PING").await.unwrap();
        app.nats.flush().await.unwrap();
        let started = std::time::Instant::now();
        let mut calls = 0;
        while calls < 40 && started.elapsed() < Duration::from_millis(900) {
            gw.http("GET", "/readyz", &[], b"").await;
            calls += 1;
        }
        let mut sent = 0;
        while tokio::time::timeout(Duration::from_millis(300), futures::StreamExt::next(&mut pings))
            .await
            .is_ok()
        {
            sent += 1;
        }
        if sent > 1 {
            failures.push(format!("{calls} calls of /readyz within {:?} sent {sent} pings", started.elapsed()));
        }

        let log = gw.stop().await;
        // The path is logged as sent: %0A stays three characters, so no
        // request can start a log line of its own.
        if !log.iter().any(|l| l.contains("POST /v1/auth/me%0A 404 ")) {
            failures.push(format!(
                "no log line of POST /v1/auth/me%0A as sent: {:?}",
                log.iter().filter(|l| l.contains("/v1/auth/me")).collect::<Vec<_>>()
            ));
        }
        assert!(failures.is_empty(), "{} rules not held:\n{}", failures.len(), failures.join("\n"));
    })
    .await;
}

/// The key set at `/.well-known/jwks.json` is `auth.jwks`'s, cacheable for
/// less than the standby period; with `-verify-tokens` a bad token is
/// refused at the edge without reaching a worker, a good one passes, and
/// without the flag (the default) the worker refuses it.
#[tokio::test]
async fn the_key_set_is_published_and_local_verification_refuses_bad_tokens_before_nats() {
    with_app(async |app| {
        let signup = app.signup(olympus_tests::Encoding::Json).await;
        let published = app
            .call(
                olympus_tests::Encoding::Json,
                "auth.v1.jwks",
                None,
                json!({}),
            )
            .await
            .ok();
        let (kid, _) = app.signing_key().await;
        let forged = olympus_tests::jwt::forged_under(&kid, &signup.access_token);
        let reached = async || {
            crate::hostile::endpoint_stats(app, "olympus-auth", "me").await["num_requests"]
                .as_u64()
                .unwrap()
        };

        for (flags, checked_here) in [(&["-verify-tokens"][..], true), (&[][..], false)] {
            let gateway = Gateway::start(app, &app.prefix, flags).await;
            let (status, headers, body) = gateway
                .http("GET", "/.well-known/jwks.json", &[], b"")
                .await;
            assert_eq!(status, 200);
            assert_eq!(headers["content-type"], "application/json");
            assert_eq!(headers["cache-control"], "public, max-age=300");
            assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), published);
            // A Python service verifies with the key set from here alone
            // (its NATS is out of reach).
            let url = format!("http://{}/.well-known/jwks.json", gateway.addr);
            let env = [
                ("OLYMPUS_JWKS_URL", url.as_str()),
                ("NATS_URL", "nats://127.0.0.1:1"),
            ];
            let (verified, said) =
                crate::signing_keys::verify_in_python_with(app, &signup.access_token, &env).await;
            assert!(verified, "{said}");
            let (verified, _) =
                crate::signing_keys::verify_in_python_with(app, &forged, &env).await;
            assert!(!verified);

            let (status, _, me) = gateway
                .post("auth/me", Some(&signup.access_token), &[], json!({}))
                .await;
            assert_eq!(status, 200, "{me}");
            assert_eq!(me["user"]["id"], signup.user_id.as_str());

            let before = reached().await;
            let (status, _, refused) = gateway.post("auth/me", Some(&forged), &[], json!({})).await;
            assert_eq!(status, 401, "{refused}");
            assert_eq!(refused["code"], "unauthenticated");
            let worker_saw = reached().await - before;
            assert_eq!(worker_saw, u64::from(!checked_here), "flags {flags:?}");
            gateway.stop().await;
        }
    })
    .await;
}

//! The Go gateway (`gateway/`): HTTP in front of the mesh, tested from an
//! HTTP client against real workers.
//!
//! The gateway is built once per test process with Debian's Go and NATS
//! packages (`.ci/run` installs them), as the README says
//! ([`olympus_tests::gateway::binary`]).

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

/// The gateway's own Go tests (routing, status mapping, headers), run by
/// `go test`; each must pass.
#[tokio::test]
async fn the_gateways_go_tests_pass() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let tested = tokio::process::Command::new("go")
        .args(["test", "-count=1", "-v", "."])
        .current_dir(format!("{root}/gateway"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
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
    assert!(passed >= 5, "the Go tests ran:\n{stdout}");
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
        let (status, _, body) = slow.post("auth/me", None, &[], json!({})).await;
        assert_eq!((status, body["code"].as_str()), (504, Some("unavailable")));
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

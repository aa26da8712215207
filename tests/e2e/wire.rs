//! Frames no NATS client library would build, written on a raw TCP
//! connection: the server forwards a publisher's header block and reply
//! subject byte for byte, so a message the workers' NATS client cannot
//! parse must cost that message (one `bad_request`, or nothing when there is
//! no reply subject to answer), never the connection with every request in
//! flight on it (vendor/async-nats/PATCHED.md).

use futures::StreamExt;
use olympus_tests::client::Reply;
use olympus_tests::{with_app, Encoding, TestApp};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A NATS connection that writes frames as given.
struct RawNats {
    stream: BufReader<TcpStream>,
}

impl RawNats {
    async fn connect(app: &TestApp) -> Self {
        let address = app.nats_url.trim_start_matches("nats://");
        let stream = TcpStream::connect(address).await.unwrap();
        let mut raw = Self {
            stream: BufReader::new(stream),
        };
        let info = raw.line().await;
        assert!(info.starts_with("INFO "), "{info}");
        raw.stream
            .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n")
            .await
            .unwrap();
        raw.flush().await;
        raw
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.stream.read_line(&mut line).await.unwrap();
        line
    }

    /// Returns once the server has processed everything written so far.
    async fn flush(&mut self) {
        self.stream.write_all(b"PING\r\n").await.unwrap();
        loop {
            match self.line().await.as_str() {
                "PONG\r\n" => return,
                // The server's own keep-alive.
                "PING\r\n" => self.stream.write_all(b"PONG\r\n").await.unwrap(),
                other => panic!("the server refused a frame: {other}"),
            }
        }
    }

    /// Writes `frame` (flushed by the next [`RawNats::flush`]).
    async fn write(&mut self, frame: &[u8]) {
        self.stream.write_all(frame).await.unwrap();
    }
}

/// An HPUB frame: `header` is the whole header block, as it goes on the
/// wire.
fn hpub(subject: &str, reply: &[u8], header: &[u8], payload: &[u8]) -> Vec<u8> {
    [
        format!("HPUB {subject} ").as_bytes(),
        reply,
        format!(" {} {}\r\n", header.len(), header.len() + payload.len()).as_bytes(),
        header,
        payload,
        b"\r\n",
    ]
    .concat()
}

/// A request to `auth.v1.me` whose headers are not NATS headers: a value
/// holding 0xFF (not UTF-8), as an HTTP header may carry it.
fn unparsable_me(app: &TestApp, reply: &str, token: &str) -> Vec<u8> {
    let header = [
        b"NATS/1.0\r\nContent-Type: application/json\r\n".as_slice(),
        format!("Authorization: Bearer {token}\r\n").as_bytes(),
        b"X-Client-Ip: 10.0.0.\xff\r\n\r\n",
    ]
    .concat();
    hpub(&app.subject("auth.v1.me"), reply.as_bytes(), &header, b"{}")
}

/// How often the test's (and in-process workers') NATS client connected.
fn connects(app: &TestApp) -> u64 {
    app.nats.statistics().connects.load(Ordering::Relaxed)
}

#[tokio::test]
async fn an_unparsable_header_costs_one_bad_request_not_the_connection() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let connected = connects(app);
        let inbox = app.nats.new_inbox();
        let mut replies = app.nats.subscribe(inbox.clone()).await.unwrap();
        let mut raw = RawNats::connect(app).await;
        // A login (an Argon2 hash) in flight while the frame arrives.
        let login = app.login(&signup.slug, &signup.email, &signup.password);
        let frame = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            raw.write(&unparsable_me(app, &inbox, &signup.access_token))
                .await;
            raw.flush().await;
        };
        let (login, ()) = tokio::join!(login, frame);
        login.ok();

        let mut answers = Vec::new();
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(700), replies.next()).await
        {
            answers.push(Reply {
                headers: message.headers.unwrap_or_default(),
                payload: message.payload,
            });
        }
        assert_eq!(answers.len(), 1, "exactly one reply");
        let body = answers[0].err(400, "bad_request");
        assert_eq!(
            body["message"], "the request headers are not valid NATS headers",
            "{body}"
        );

        // Still connected, still answering, and the error is counted.
        app.me(&signup.access_token).await.ok();
        assert_eq!(connects(app), connected, "the NATS client reconnected");
        let me = crate::hostile::endpoint_stats(app, "olympus-auth", "me").await;
        assert_eq!(me["num_requests"], 2, "{me}");
        assert_eq!(me["num_errors"], 1, "{me}");
        assert!(
            me["last_error"].as_str().unwrap().starts_with("400"),
            "{me}"
        );
        assert_eq!(me["data"]["shed"], 0, "{me}");
    })
    .await;
}

#[tokio::test]
async fn an_unreadable_reply_subject_costs_only_its_request() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let connected = connects(app);
        let mut raw = RawNats::connect(app).await;
        let header = b"NATS/1.0\r\nContent-Type: application/json\r\n\r\n";
        let logout = json!({"refresh_token": signup.refresh_token}).to_string();
        let subject = app.subject("auth.v1.logout");
        // Not UTF-8; and UTF-8 holding whitespace that is no separator of
        // the protocol (no-break space, form feed).
        for reply in [&b"_INBOX.\xff"[..], b"_INBOX.\xc2\xa0x", b"_INBOX.a\x0cb"] {
            raw.write(&hpub(&subject, reply, header, logout.as_bytes()))
                .await;
            raw.write(
                &[
                    format!("PUB {subject} ").as_bytes(),
                    reply,
                    format!(" {}\r\n{logout}\r\n", logout.len()).as_bytes(),
                ]
                .concat(),
            )
            .await;
        }
        raw.flush().await;

        // Requests on one endpoint are taken in order: this one's answer
        // means those above were handled. None ran: the session is live.
        app.logout(&signup.refresh_token).await.ok();
        assert_eq!(connects(app), connected, "the NATS client reconnected");
        let logout = crate::hostile::endpoint_stats(app, "olympus-auth", "logout").await;
        assert_eq!(logout["data"]["dropped_reply_subjects"], 6, "{logout}");
        assert_eq!(logout["num_requests"], 1, "{logout}");
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_unparsable_headers_does_not_keep_requests_from_being_answered() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let connected = connects(app);
        let inbox = app.nats.new_inbox();
        let mut replies = app.nats.subscribe(inbox.clone()).await.unwrap();
        let mut raw = RawNats::connect(app).await;
        let frame = unparsable_me(app, &inbox, &signup.access_token);
        const BATCHES: usize = 100;
        const BATCH: usize = 40;
        let flooding = AtomicBool::new(true);
        let flood = async {
            for _ in 0..BATCHES {
                raw.write(&frame.repeat(BATCH)).await;
                raw.flush().await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            flooding.store(false, Ordering::Relaxed);
        };
        // Legitimate requests, one after the other, for as long as the
        // flood lasts: each must be answered.
        let legitimate = async {
            let mut answered = 0;
            while flooding.load(Ordering::Relaxed) {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Content-Type", "application/json");
                headers.insert("Authorization", format!("Bearer {}", signup.access_token));
                let reply = app
                    .try_raw("auth.v1.me", headers, "{}", Duration::from_secs(2))
                    .await
                    .unwrap_or_else(|| panic!("a request went unanswered after {answered}"));
                reply.ok();
                answered += 1;
            }
            answered
        };
        let started = Instant::now();
        let ((), answered) = tokio::join!(flood, legitimate);
        eprintln!(
            "{answered} requests answered in {:?} among {BATCHES} x {BATCH} unparsable ones",
            started.elapsed()
        );
        assert!(answered >= 3, "only {answered} requests during the flood");

        // Every frame got its one bad_request.
        let mut refused = 0;
        while refused < BATCHES * BATCH {
            let message = tokio::time::timeout(Duration::from_secs(5), replies.next())
                .await
                .unwrap_or_else(|_| panic!("{refused} of {} answered", BATCHES * BATCH))
                .unwrap();
            let reply = Reply {
                headers: message.headers.unwrap_or_default(),
                payload: message.payload,
            };
            assert_eq!(reply.status(), 400);
            refused += 1;
        }
        let stray = tokio::time::timeout(Duration::from_millis(300), replies.next()).await;
        assert!(stray.is_err(), "a second reply: {stray:?}");
        assert_eq!(connects(app), connected, "the NATS client reconnected");
    })
    .await;
}

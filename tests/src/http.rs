//! A plain HTTP/1.1 client over a TCP stream: what the gateway and the
//! metrics port send is read byte for byte, with nothing in between.

use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request (`Connection: close`); the status, headers (lower-cased)
/// and body. Panics on a malformed or chunked response.
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, HashMap<String, String>, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // A body the server refuses early may not be read to its end.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response))
        .await
        .expect("a response within 20 s");
    let text_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response");
    let head = String::from_utf8_lossy(&response[..text_end]).to_string();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = response[text_end + 4..].to_vec();
    assert!(
        !headers.contains_key("transfer-encoding"),
        "the server sends Content-Length"
    );
    (status, headers, body)
}

/// `POST path` with a JSON body (and a bearer token); the status and the
/// JSON reply (`null` when the body is not JSON).
pub async fn post_json(addr: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    let (status, _, body) =
        request(addr, "POST", path, &headers, body.to_string().as_bytes()).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// One response of [`exchange`]: the status, headers (lower-cased) and body.
pub type Response = (u16, HashMap<String, String>, Vec<u8>);

/// Writes `raw` as it is on one connection, then reads until the server
/// closes it or `quiet` passes with nothing more to read; every complete
/// response read (framed by Content-Length), and whether the server closed
/// the connection.
pub async fn exchange(addr: &str, raw: &[u8], quiet: Duration) -> (Vec<Response>, bool) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A server that refuses early may stop reading: what it did not read
    // is not needed.
    let _ = stream.write_all(raw).await;
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let closed = loop {
        match tokio::time::timeout(quiet, stream.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    };
    (parse_responses(&received), closed)
}

/// The complete responses in `bytes`, in order (each framed by its
/// Content-Length; none if none is complete).
pub fn parse_responses(mut bytes: &[u8]) -> Vec<Response> {
    let mut responses = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).to_string();
        let mut lines = head.lines();
        let Some(status) = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
        else {
            break;
        };
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let body_start = end + 4;
        if bytes.len() < body_start + length {
            break;
        }
        responses.push((
            status,
            headers,
            bytes[body_start..body_start + length].to_vec(),
        ));
        bytes = &bytes[body_start + length..];
    }
    responses
}

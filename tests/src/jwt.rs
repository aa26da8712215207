//! Access tokens taken apart and forged, for tests of what the workers, the
//! gateway and outside verifiers refuse.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

/// Part `index` of `token` decoded: 0 the header, 1 the claims.
pub fn part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// A JWT header of `alg` with `typ` and `kid`.
pub fn header(alg: Algorithm, typ: Option<&str>, kid: Option<&str>) -> Header {
    let mut header = Header::new(alg);
    header.typ = typ.map(str::to_owned);
    header.kid = kid.map(str::to_owned);
    header
}

/// An Ed25519 key nobody published.
pub fn stranger() -> EncodingKey {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let der = ed25519_dalek::SigningKey::from_bytes(&[42; 32])
        .to_pkcs8_der()
        .expect("a PKCS#8 document");
    EncodingKey::from_ed_der(der.as_bytes())
}

/// `token`'s claims under an EdDSA `at+jwt` header naming the published
/// `kid`, signed with [`stranger`]: everything right but the key.
pub fn forged_under(kid: &str, token: &str) -> String {
    let header = header(Algorithm::EdDSA, Some("at+jwt"), Some(kid));
    jsonwebtoken::encode(&header, &part(token, 1), &stranger()).expect("signing")
}

//! DPoP (RFC 9449): the per-server proof-of-possession key kept in the token store, the
//! proofs (`typ: dpop+jwt`, ES256 on P-256) sent with token, refresh and MCP requests, the
//! `oauth.dpop` setting, and the latest server-supplied nonce per origin.
//!
//! Guarantees: the private key is registered with `redact` as soon as it exists or is read,
//! and only its public half ever goes on the wire (the proof's `jwk` header); every proof has
//! a fresh random `jti`; `htu` never carries a query or fragment.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exit::{Failure, Kind};

/// `oauth.dpop`: when tokens are bound to a DPoP key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// When the MCP server's challenge offers the `DPoP` scheme. An authorization server
    /// that merely supports DPoP is not enough: a DPoP-bound token is useless at an MCP server
    /// that only takes `Bearer`.
    #[default]
    Auto,
    Always,
    Never,
}

impl Mode {
    /// Whether a login uses DPoP, given whether the MCP server's challenge offers it.
    pub fn wanted(self, demanded: bool) -> bool {
        match self {
            Mode::Auto => demanded,
            Mode::Always => true,
            Mode::Never => false,
        }
    }
}

/// Whether a `WWW-Authenticate` challenge asks for DPoP.
pub fn demanded(challenge: &str) -> bool {
    challenge
        .split(',')
        .any(|part| part.trim_start().to_ascii_lowercase().starts_with("dpop"))
}

/// Whether a token response's `token_type` is `DPoP` (RFC 9449 §5): the token is bound and
/// must be sent with the `DPoP` scheme and a proof.
pub fn bound(token_type: &oauth2::basic::BasicTokenType) -> bool {
    token_type.as_ref().eq_ignore_ascii_case("dpop")
}

/// The key as the token store keeps it (a field of the server's entry).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredKey {
    /// Always `ES256` (P-256) today.
    pub alg: String,
    /// The PKCS#8 private key, base64url: a secret.
    pub private_key: String,
}

/// A DPoP key pair, ready to sign proofs.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    stored: StoredKey,
    jwk: serde_json::Value,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

fn key_failure(what: impl std::fmt::Display) -> Failure {
    Failure::new(Kind::Auth, format!("DPoP key: {what}"))
}

impl DpopKey {
    /// A new P-256 key.
    pub fn generate() -> Result<DpopKey, Failure> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| key_failure("cannot generate a P-256 key"))?;
        DpopKey::from_stored(&StoredKey {
            alg: "ES256".to_string(),
            private_key: B64.encode(pkcs8.as_ref()),
        })
    }

    /// The key kept in the store.
    pub fn from_stored(stored: &StoredKey) -> Result<DpopKey, Failure> {
        crate::redact::register(&stored.private_key);
        if stored.alg != "ES256" {
            return Err(key_failure(format!(
                "algorithm `{}` is not supported (only ES256)",
                stored.alg
            )));
        }
        let der = B64
            .decode(stored.private_key.trim())
            .map_err(|_| key_failure("the stored private key is not base64url"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map_err(|_| key_failure("the stored private key is not a PKCS#8 P-256 key"))?;
        // The public key is the uncompressed point 0x04 || x || y.
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            return Err(key_failure("unexpected public key encoding"));
        }
        let jwk = serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": B64.encode(&point[1..33]),
            "y": B64.encode(&point[33..65]),
        });
        Ok(DpopKey {
            pair,
            stored: stored.clone(),
            jwk,
        })
    }

    pub fn stored(&self) -> &StoredKey {
        &self.stored
    }

    /// The public key as a JWK (no private part).
    pub fn jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    /// The RFC 7638 JWK thumbprint (`cnf.jkt` of bound tokens).
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.jwk["x"].as_str().unwrap_or_default(),
            self.jwk["y"].as_str().unwrap_or_default()
        );
        B64.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// A fresh proof for one request: `method` and `url` as sent (the query and fragment are
    /// left out of `htu`), `ath` when presenting `access_token`, and the server's `nonce`.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, Failure> {
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let mut claims = serde_json::json!({
            "jti": random_id()?,
            "htm": method.to_ascii_uppercase(),
            "htu": htu(url),
            "iat": super::now(),
        });
        if let Some(token) = access_token {
            claims["ath"] = B64.encode(Sha256::digest(token.as_bytes())).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| key_failure("cannot sign a proof"))?;
        Ok(format!("{input}.{}", B64.encode(signature.as_ref())))
    }
}

fn random_id() -> Result<String, Failure> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| key_failure("no randomness for a jti"))?;
    Ok(B64.encode(bytes))
}

/// RFC 9449 §4.2: the request URI without query and fragment.
pub fn htu(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or(url).to_string(),
    }
}

/// The latest `DPoP-Nonce` each origin sent (RFC 9449 §8, §9), for this process.
static NONCES: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Default::default);

fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string())
}

/// The nonce to put in the next proof for `url`.
pub fn nonce_for(url: &str) -> Option<String> {
    NONCES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&origin(url))
        .cloned()
}

/// Remember a `DPoP-Nonce` header `url`'s server sent.
pub fn remember_nonce(url: &str, headers: &reqwest::header::HeaderMap) {
    if let Some(nonce) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) {
        NONCES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(origin(url), nonce.to_string());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    use pretty_assertions::assert_eq;

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&B64.decode(part).unwrap()).unwrap()
    }

    /// Verify a proof with the public key its own `jwk` header names, as a server does.
    fn verify(proof: &str) -> (serde_json::Value, serde_json::Value) {
        let parts: Vec<&str> = proof.split('.').collect();
        assert_eq!(parts.len(), 3);
        let (header, claims) = (decode(parts[0]), decode(parts[1]));
        let coordinate = |c: &str| B64.decode(header["jwk"][c].as_str().unwrap()).unwrap();
        let point = [vec![4u8], coordinate("x"), coordinate("y")].concat();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &B64.decode(parts[2]).unwrap(),
            )
            .unwrap();
        (header, claims)
    }

    #[test]
    fn a_proof_carries_the_public_key_and_the_claims_and_its_signature_verifies() {
        let key = DpopKey::generate().unwrap();
        let proof = key
            .proof(
                "post",
                "https://as.example/token?x=1#frag",
                Some("AT"),
                Some("n-1"),
            )
            .unwrap();
        let (header, claims) = verify(&proof);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        let mut names: Vec<&String> = header["jwk"].as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["crv", "kty", "x", "y"]);
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://as.example/token");
        assert_eq!(claims["nonce"], "n-1");
        // ath = base64url(SHA-256("AT")), RFC 9449 §4.2.
        assert_eq!(claims["ath"], "61RCcFlp3I2l36yPlljcaKzatbt2Nbp8xVHjiUFqw04");
        assert!((claims["iat"].as_u64().unwrap() as i64 - super::super::now() as i64).abs() < 5);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        assert!(!proof.contains(&key.stored().private_key));
    }

    #[test]
    fn every_proof_has_a_new_jti_and_token_requests_have_no_ath() {
        let key = DpopKey::generate().unwrap();
        let (_, first) = verify(&key.proof("POST", "http://a/token", None, None).unwrap());
        let (_, second) = verify(&key.proof("POST", "http://a/token", None, None).unwrap());
        assert_ne!(first["jti"], second["jti"]);
        assert_eq!(first.get("ath"), None);
        assert_eq!(first.get("nonce"), None);
    }

    #[test]
    fn a_stored_key_signs_as_the_same_key() {
        let key = DpopKey::generate().unwrap();
        let again = DpopKey::from_stored(
            &serde_json::from_value(serde_json::to_value(key.stored()).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(again.jwk(), key.jwk());
        assert_eq!(again.thumbprint(), key.thumbprint());
        let (header, _) = verify(&again.proof("GET", "http://a/mcp", None, None).unwrap());
        assert_eq!(&header["jwk"], key.jwk());
    }

    #[test]
    fn the_thumbprint_follows_rfc_7638() {
        // RFC 7638 §3.1 describes the members in lexicographic order, without whitespace.
        let key = DpopKey::generate().unwrap();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            key.jwk()["x"].as_str().unwrap(),
            key.jwk()["y"].as_str().unwrap()
        );
        assert_eq!(key.thumbprint(), B64.encode(Sha256::digest(canonical)));
        assert_eq!(key.thumbprint().len(), 43);
    }

    #[test]
    fn a_broken_stored_key_is_an_error_that_does_not_show_it() {
        let stored = StoredKey {
            alg: "ES256".to_string(),
            private_key: "bm90LWEta2V5LWF0LWFsbC1yZWFsbHk".to_string(),
        };
        let error = DpopKey::from_stored(&stored).unwrap_err();
        assert!(!error.message.contains(&stored.private_key));
        assert!(
            DpopKey::from_stored(&StoredKey {
                alg: "RS256".to_string(),
                ..stored
            })
            .is_err()
        );
    }

    #[test]
    fn auto_uses_dpop_when_the_mcp_server_offers_it() {
        assert!(Mode::Auto.wanted(true));
        assert!(!Mode::Auto.wanted(false));
        assert!(Mode::Always.wanted(false));
        assert!(!Mode::Never.wanted(true));
        assert!(demanded(r#"DPoP resource_metadata="http://x""#));
        assert!(demanded(r#"Bearer realm="x", DPoP algs="ES256""#));
        assert!(!demanded(r#"Bearer resource_metadata="http://x""#));
    }

    #[test]
    fn nonces_are_remembered_per_origin() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("DPoP-Nonce", "abc".parse().unwrap());
        remember_nonce("http://127.0.0.1:7/token?q", &headers);
        assert_eq!(
            nonce_for("http://127.0.0.1:7/other").as_deref(),
            Some("abc")
        );
        assert_eq!(nonce_for("http://127.0.0.1:8/token"), None);
    }
}

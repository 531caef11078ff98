//! The client-credentials grant (the MCP OAuth client-credentials extension): a token for a
//! machine client, authenticated with a client secret or a signed JWT (private_key_jwt).

use rmcp::transport::auth::{
    AuthError, AuthorizationManager, AuthorizationMetadata, ClientCredentialsConfig,
    OAuthTokenResponse,
};

use crate::auth::client_auth::{self, Method};

use super::headless::{Granted, save};
use crate::auth::store::token_usable;
use crate::auth::store::{Entry, TokenStore};
use crate::auth::{auth_failure, key};
use crate::config::ServerConfig;
use crate::exit::{Failure, Kind};

/// For `auth_type: client_credentials`: get a token with the configured client when there is
/// none or it is about to expire (or always, with `force`).
pub async fn ensure_client_credentials(
    server: &ServerConfig,
    store: &TokenStore,
    force: bool,
) -> Result<(), Failure> {
    let url = key(server).ok_or_else(|| {
        Failure::config(format!(
            "server `{}`: client_credentials needs a url",
            server.name
        ))
    })?;
    let entry = store.get(url)?.unwrap_or_default();
    let fresh = entry
        .credentials
        .as_ref()
        .is_some_and(|c| token_usable(c, 60));
    if fresh && !force {
        return Ok(());
    }
    let oauth = server.oauth.clone().unwrap_or_default();
    let Some(client_id) = oauth.client_id.clone() else {
        return Err(Failure::config(format!(
            "server `{}` has auth_type client_credentials but no oauth.client_id",
            server.name
        )));
    };
    let authentication = authentication(server, &oauth)?;
    let config = credentials_config(server, &oauth, &client_id, url, authentication)?;
    let _lock = tokio::task::spawn_blocking({
        let store = store.clone();
        move || store.refresh_lock()
    })
    .await
    .map_err(|e| Failure::new(Kind::Internal, e.to_string()))??;
    let binding = dpop_binding(server, &oauth, &entry, url).await?;
    let (metadata, token, method) =
        exchange_apart(server, &oauth, url, binding.clone(), config, authentication)
            .await?
            .map_err(|e| {
                auth_failure(server, format!("the client credentials grant failed: {e}"))
            })?;
    let granted = Granted {
        metadata,
        client_id: Some(client_id),
        token,
        scopes: oauth.scopes.clone(),
    };
    save(server, store, url, granted, |entry| {
        if let Some(client) = &mut entry.client {
            client.token_endpoint_auth_method = Some(method.to_string());
        }
        entry.dpop_key = crate::auth::stored_key(binding.as_ref());
    })
}

/// What the exchange returns: the (possibly overridden) metadata, the token and how the
/// client authenticated.
type Exchanged = (AuthorizationMetadata, OAuthTokenResponse, &'static str);

/// The grant's exchange, on a thread of its own with a small runtime: rmcp's private_key_jwt
/// exchange future is not Send, so it could not run on our runtime's tasks otherwise.
async fn exchange_apart(
    server: &ServerConfig,
    oauth: &crate::config::OAuthConfig,
    url: &str,
    binding: Option<std::sync::Arc<crate::auth::dpop_http::Binding>>,
    config: ClientCredentialsConfig,
    authentication: Authentication,
) -> Result<Result<Exchanged, String>, Failure> {
    let url = url.to_string();
    let token_url = oauth.token_url.clone();
    // Built here, on the command's runtime; the grant runs on a runtime of its own below.
    let client = crate::auth::oauth_client(server, &url, binding.as_ref())?;
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let mut manager =
                AuthorizationManager::new_with_oauth_http_client(url.as_str(), client)
                    .await
                    .map_err(|e| e.to_string())?;
            let mut metadata = manager
                .resolve_metadata()
                .await
                .map_err(|e| crate::auth::guard::chain(&e))?
                .metadata;
            if let Some(token_url) = token_url {
                metadata.token_endpoint = token_url;
            }
            crate::auth::guard::require_tls(&metadata)?;
            let (token, method) = exchange(&mut manager, &metadata, &config, authentication)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((metadata, token, method))
        })
    })
    .await
    .map_err(|e| Failure::new(Kind::Internal, e.to_string()))
}

/// The DPoP binding of a client-credentials token, when `oauth.dpop` and (`auto`) the MCP
/// server's challenge call for one: the stored key when there is one, else a new one. Decided
/// before the manager is made, whose OAuth client then adds the proofs.
async fn dpop_binding(
    server: &ServerConfig,
    oauth: &crate::config::OAuthConfig,
    entry: &Entry,
    url: &str,
) -> Result<Option<std::sync::Arc<crate::auth::dpop_http::Binding>>, Failure> {
    use crate::auth::dpop::{DpopKey, Mode};
    let mode = oauth.dpop.unwrap_or_default();
    let demanded = match (mode, &server.transport) {
        (Mode::Auto, crate::config::Transport::Http { headers, .. }) => {
            let http = crate::mcp::http_client_trusting(server.ca_file.as_deref())?;
            crate::auth::probe::probe_challenge(&http, url, headers)
                .await
                .as_deref()
                .is_some_and(crate::auth::dpop::demanded)
        }
        _ => false,
    };
    if !mode.wanted(demanded) {
        return Ok(None);
    }
    let key = match &entry.dpop_key {
        Some(stored) => DpopKey::from_stored(stored)?,
        None => DpopKey::generate()?,
    };
    Ok(Some(crate::auth::dpop_http::Binding::new(key)))
}

/// How the client-credentials token request authenticates the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Authentication {
    /// With the client secret: the configured method, else one the server's metadata implies.
    Secret(Option<Method>),
    /// With a signed JWT (RFC 7523, `private_key_jwt`).
    Jwt,
}

/// `oauth.token_endpoint_auth_method` if set (checked against what is configured), else a
/// key file means `private_key_jwt` and a secret means a secret method.
fn authentication(
    server: &ServerConfig,
    oauth: &crate::config::OAuthConfig,
) -> Result<Authentication, Failure> {
    let problem = |what: &str| {
        Failure::config(format!(
            "server `{}` has auth_type client_credentials {what}",
            server.name
        ))
    };
    let has_secret = oauth.client_secret.is_some();
    let has_key = oauth.private_key_file.is_some();
    match oauth.token_endpoint_auth_method.as_deref() {
        Some("private_key_jwt") if has_key => Ok(Authentication::Jwt),
        Some("private_key_jwt") => Err(problem(
            "and token_endpoint_auth_method private_key_jwt but no oauth.private_key_file",
        )),
        Some(name) => match Method::parse(name) {
            Some(Method::None) => Err(problem(
                "but token_endpoint_auth_method none: a machine client must authenticate",
            )
            .hint("use client_secret_basic, client_secret_post or private_key_jwt")),
            Some(method) if has_secret => Ok(Authentication::Secret(Some(method))),
            Some(_) => Err(problem(&format!(
                "and token_endpoint_auth_method {name} but no oauth.client_secret"
            ))),
            None => Err(problem(&format!(
                "and oauth.token_endpoint_auth_method `{name}`, which is not one of client_secret_basic, client_secret_post, private_key_jwt"
            ))),
        },
        None if has_key => Ok(Authentication::Jwt),
        None if has_secret => Ok(Authentication::Secret(None)),
        None => Err(problem(
            "but neither oauth.client_secret nor oauth.private_key_file",
        )),
    }
}

/// One client-credentials token request on `manager`, authenticated as `authentication`
/// says; returns the token and the method's name. rmcp picks Basic or the body from the
/// metadata alone, so it is shown a view that names exactly the chosen method (as at login).
async fn exchange(
    manager: &mut AuthorizationManager,
    metadata: &AuthorizationMetadata,
    config: &ClientCredentialsConfig,
    authentication: Authentication,
) -> Result<(OAuthTokenResponse, &'static str), AuthError> {
    let method = match authentication {
        Authentication::Secret(method) => {
            let method = method.unwrap_or_else(|| client_auth::secret_default(metadata));
            manager.set_metadata(client_auth::metadata_for(metadata, method));
            method.name()
        }
        Authentication::Jwt => {
            manager.set_metadata(metadata.clone());
            "private_key_jwt"
        }
    };
    manager.configure_client_credentials(config)?;
    let token = manager.exchange_client_credentials(config).await?;
    Ok((token, method))
}

/// The client-credentials grant's client authentication: a secret, or a signed JWT.
fn credentials_config(
    server: &ServerConfig,
    oauth: &crate::config::OAuthConfig,
    client_id: &str,
    url: &str,
    authentication: Authentication,
) -> Result<ClientCredentialsConfig, Failure> {
    use rmcp::transport::auth::JwtSigningAlgorithm;
    match (
        authentication,
        &oauth.client_secret,
        &oauth.private_key_file,
    ) {
        (Authentication::Jwt, _, Some(key_file)) => {
            let signing_key = std::fs::read(key_file).map_err(|e| {
                Failure::config(format!(
                    "server `{}`: cannot read oauth.private_key_file {key_file}: {e}",
                    server.name
                ))
            })?;
            let pem = String::from_utf8_lossy(&signing_key).to_string();
            // The key itself must never be printed, whole or line by line.
            crate::redact::register_pem(&pem);
            if pem.contains("BEGIN EC PRIVATE KEY") {
                return Err(Failure::config(format!(
                    "server `{}`: oauth.private_key_file is a SEC1 EC key; convert it to PKCS#8: \
                     openssl pkcs8 -topk8 -nocrypt -in {key_file} -out key.pem",
                    server.name
                )));
            }
            let algorithm = oauth
                .signing_algorithm
                .as_deref()
                .map(str::to_ascii_uppercase);
            let signing_algorithm = match algorithm.as_deref() {
                None if pkcs8_curve(&pem) == Some(384) => JwtSigningAlgorithm::ES384,
                None if pkcs8_curve(&pem).is_some() => JwtSigningAlgorithm::ES256,
                None | Some("RS256") => JwtSigningAlgorithm::RS256,
                Some("RS384") => JwtSigningAlgorithm::RS384,
                Some("RS512") => JwtSigningAlgorithm::RS512,
                Some("ES256") => JwtSigningAlgorithm::ES256,
                Some("ES384") => JwtSigningAlgorithm::ES384,
                Some(other) => {
                    return Err(Failure::config(format!(
                        "server `{}`: oauth.signing_algorithm `{other}` is not one of RS256, RS384, RS512, ES256, ES384",
                        server.name
                    )));
                }
            };
            Ok(ClientCredentialsConfig::PrivateKeyJwt {
                client_id: client_id.to_string(),
                signing_key,
                signing_algorithm,
                token_endpoint_audience: None,
                scopes: oauth.scopes.clone(),
                resource: Some(url.to_string()),
            })
        }
        (Authentication::Secret(_), Some(client_secret), _) => {
            Ok(ClientCredentialsConfig::ClientSecret {
                client_id: client_id.to_string(),
                client_secret: client_secret.clone(),
                scopes: oauth.scopes.clone(),
                resource: Some(url.to_string()),
            })
        }
        _ => Err(Failure::config(format!(
            "server `{}` has auth_type client_credentials but neither oauth.client_secret nor oauth.private_key_file",
            server.name
        ))),
    }
}

/// For a PKCS#8 EC private key, the curve size (256 or 384); `None` for other keys.
fn pkcs8_curve(pem: &str) -> Option<u32> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()?;
    let contains = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
    // id-ecPublicKey, then the named curve: secp384r1, else prime256v1.
    if !contains(&[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]) {
        return None;
    }
    if contains(&[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]) {
        Some(384)
    } else {
        Some(256)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Throwaway keys made for this test with `openssl genpkey`.
    const P256: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiiTxTyb/u6uKS6NG
2gxyfeD+mkOyGCsMhc9Y1Frmk0qhRANCAATyKHU+M5NcPgLIV0EFlAQYyuMUvolZ
aYD0vXf53EiYG7sKtOungk2XoiHaIMj4cQfoaQGK+aufl+2uAY0smu+D
-----END PRIVATE KEY-----";
    const P384: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCm6nEUhssaWDA21zKZ
Fg8SPgOR8QliYj3HWSDgfrF0PheHEv9mAAtlAucENFXmd2mhZANiAAT1SltlSEmF
L/YyNk38d0WOmjKBDVGRBA73znbYK6u0kcaguUT3OH+gVrFvh6uuedcm5bx3JfVu
Bd4hyvChS9qMtftBRsNH+jdWWrnNWjvH3riPSep6oPAxKO9USWn4l8k=
-----END PRIVATE KEY-----";
    const RSA: &str = "-----BEGIN PRIVATE KEY-----
MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBALD9ANI9DoOwzMCy
l3JoBoHiBErHfM/tjpOVec6vBjzy9S8yrKVsiye+qKSCgmCuLN8/DrbotY3hsUgb
wmzdp/371gGCAF9cB2aRJFmHDDIlXRvxUwIlGksr0D2fIFezYIEP5aFcgZlO2YJw
Q0yxephHpEdnMLV2aeMHzkzp+y11AgMBAAECgYArlbJ9E5IedgyGK7TF9L4dgBZE
gAnJfpvM1lOPxWRI4B/nBpijiC5glEAdexI2Us40D+hEvNvw27J3qnZfrtouddmv
YR1yFpWT3SjTlUv7zhv4o6Ri+YwgwSiKPdeSjdyhtVT1xmAbkY4ZzxD0Hw5rF1GJ
Wtqpgyg8Do08vUyvRQJBANjsUbRONUGMNFH7p8IdiURWVvmygwWnBiEHTonwxhxq
woFgscVderEcGhWkTEMU07FLQsSftmRL6z4VoILZmacCQQDQ3wogQu99/Xcj8cB4
uKW0gTrEHznKTOTttG8BXGu0MOa8ejIMNLprhoC3NmdEBWMJ+SLk1qAnfMnq+tBu
6auDAkEAiEAHIcVt1foGcugqetaqfW3tu3DQsyAxzVUVk7bT+M1l1nWxs1H/2nbY
O3ezHv9Z6CZpja7zlRPKcniLFSUwSQJBAIplPrBhqY4xg9+tL3rN3f3cIrQQfJou
mQFnrKWaN0MNo9T+omq0BVF5rY+33HSVnSneieBW1YdUh/XKepEDA0ECQQDFUt8K
boMnzRTe3GLi1XGk5pi90gps/kkJNDRpBfFpo2hSg+1jSE4154N/C46TKgF92GjR
xDltmjOZwce3Vntw
-----END PRIVATE KEY-----";

    use std::sync::Arc;

    use pretty_assertions::assert_eq;

    use crate::auth::client_auth::tests::{Recorder, Sent, URL, form, metadata, server};
    use crate::config::OAuthConfig;

    fn oauth(method: Option<&str>, secret: bool, key: Option<&str>) -> OAuthConfig {
        OAuthConfig {
            client_id: Some("cid".to_string()),
            client_secret: secret.then(|| "s3cr:t".to_string()),
            private_key_file: key.map(str::to_string),
            token_endpoint_auth_method: method.map(str::to_string),
            scopes: vec!["read".to_string()],
            ..OAuthConfig::default()
        }
    }

    /// The one token request a client-credentials exchange sends, and the method it names.
    async fn sent(oauth: &OAuthConfig, offered: &[&str], key_pem: Option<&str>) -> (Sent, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut oauth = oauth.clone();
        if let Some(pem) = key_pem {
            let path = dir.path().join("key.pem");
            std::fs::write(&path, pem).unwrap();
            oauth.private_key_file = Some(path.display().to_string());
        }
        let server = server(None);
        let authentication = authentication(&server, &oauth).unwrap();
        let config = credentials_config(&server, &oauth, "cid", URL, authentication).unwrap();
        let recorder = Recorder::default();
        let mut manager =
            AuthorizationManager::new_with_oauth_http_client(URL, Arc::new(recorder.clone()))
                .await
                .unwrap();
        let (_, method) = exchange(&mut manager, &metadata(offered), &config, authentication)
            .await
            .unwrap();
        let mut requests = recorder.0.lock().unwrap().clone();
        assert_eq!(requests.len(), 1);
        (requests.remove(0), method.to_string())
    }

    const BOTH: &[&str] = &["client_secret_post", "client_secret_basic"];

    #[tokio::test]
    async fn client_secret_post_puts_the_secret_in_the_body_even_when_basic_is_offered() {
        let ((header, body), method) =
            sent(&oauth(Some("client_secret_post"), true, None), BOTH, None).await;
        assert_eq!(method, "client_secret_post");
        assert_eq!(header, None);
        assert_eq!(
            body,
            form(&[
                ("client_id", "cid"),
                ("client_secret", "s3cr:t"),
                ("grant_type", "client_credentials"),
                ("resource", URL),
                ("scope", "read"),
            ])
        );
    }

    #[tokio::test]
    async fn client_secret_basic_sends_the_header_even_when_only_post_is_offered() {
        let ((header, body), method) = sent(
            &oauth(Some("client_secret_basic"), true, None),
            &["client_secret_post"],
            None,
        )
        .await;
        assert_eq!(method, "client_secret_basic");
        use base64::Engine;
        let expected = base64::engine::general_purpose::STANDARD.encode("cid:s3cr%3At");
        assert_eq!(header, Some(format!("Basic {expected}")));
        assert_eq!(
            body,
            form(&[
                ("grant_type", "client_credentials"),
                ("resource", URL),
                ("scope", "read"),
            ])
        );
    }

    #[tokio::test]
    async fn without_a_configured_method_a_secret_goes_the_way_login_would_send_it() {
        let ((header, _), method) = sent(&oauth(None, true, None), BOTH, None).await;
        assert_eq!(method, "client_secret_basic");
        assert!(header.unwrap().starts_with("Basic "));
        let ((header, body), method) =
            sent(&oauth(None, true, None), &["client_secret_post"], None).await;
        assert_eq!(method, "client_secret_post");
        assert_eq!(header, None);
        assert!(body.contains(&("client_secret".to_string(), "s3cr:t".to_string())));
    }

    #[tokio::test]
    async fn private_key_jwt_sends_an_assertion_and_neither_id_nor_secret() {
        let ((header, body), method) = sent(
            &oauth(Some("private_key_jwt"), true, Some("set below")),
            &["private_key_jwt"],
            Some(P256),
        )
        .await;
        assert_eq!(method, "private_key_jwt");
        assert_eq!(header, None);
        let names: Vec<&str> = body.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "client_assertion",
                "client_assertion_type",
                "grant_type",
                "resource",
                "scope"
            ]
        );
        assert_eq!(
            body[1].1,
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        );
    }

    #[test]
    fn a_method_that_does_not_fit_the_configured_credentials_is_a_config_error() {
        let fails = |oauth: OAuthConfig| {
            let failure = authentication(&server(None), &oauth).unwrap_err();
            assert_eq!(failure.kind, Kind::Config);
            failure.message
        };
        assert!(fails(oauth(Some("none"), true, None)).contains("must authenticate"));
        assert!(
            fails(oauth(Some("private_key_jwt"), true, None)).contains("no oauth.private_key_file")
        );
        assert!(
            fails(oauth(Some("client_secret_basic"), false, Some("k.pem")))
                .contains("no oauth.client_secret")
        );
        assert!(fails(oauth(Some("tls_client_auth"), true, None)).contains("`tls_client_auth`"));
        assert_eq!(
            authentication(&server(None), &oauth(None, true, Some("k.pem"))).unwrap(),
            Authentication::Jwt
        );
    }

    #[test]
    fn finds_the_curve_of_pkcs8_ec_keys() {
        assert_eq!(pkcs8_curve(P256), Some(256));
        assert_eq!(pkcs8_curve(P384), Some(384));
        assert_eq!(pkcs8_curve(RSA), None);
    }
}

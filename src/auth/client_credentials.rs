//! The client-credentials grant (the MCP OAuth client-credentials extension): a token for a
//! machine client, authenticated with a client secret or a signed JWT (private_key_jwt).

use rmcp::transport::auth::{AuthorizationManager, ClientCredentialsConfig, StoredCredentials};

use super::store::expires_at;
use super::store::{ClientSource, Entry, Registration, TokenStore};
use super::{auth_failure, key, now, register_secrets};
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
        .and_then(expires_at)
        .is_some_and(|at| at > now() + 60)
        || entry
            .credentials
            .as_ref()
            .is_some_and(|c| c.token_response.is_some() && expires_at(c).is_none());
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
    let config = credentials_config(server, &oauth, &client_id, url)?;
    let _lock = tokio::task::spawn_blocking({
        let store = store.clone();
        move || store.refresh_lock()
    })
    .await
    .map_err(|e| Failure::new(Kind::Internal, e.to_string()))??;
    // rmcp's private_key_jwt exchange future is not Send: run the exchange on a thread of its
    // own with a small runtime, so it works from any task.
    let (url_owned, token_url, scopes) = (
        url.to_string(),
        oauth.token_url.clone(),
        oauth.scopes.clone(),
    );
    let trusting = match &server.ca_file {
        Some(file) => Some(crate::mcp::http_client_trusting(Some(file))?),
        None if crate::mcp::http_proxy_configured() => {
            Some(crate::mcp::http_client_trusting(None)?)
        }
        None => None,
    };
    let binding = dpop_binding(server, &oauth, &entry, url).await?;
    let dpop_client = match &binding {
        Some(binding) => Some(super::dpop_http::DpopOAuthClient::new(
            crate::mcp::http_client_trusting(server.ca_file.as_deref())?,
            binding.clone(),
        )),
        None => None,
    };
    let bound = binding.is_some();
    let exchanged = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let mut manager = match dpop_client {
                Some(client) => AuthorizationManager::new_with_oauth_http_client(
                    url_owned.as_str(),
                    std::sync::Arc::new(client),
                )
                .await
                .map_err(|e| e.to_string())?,
                None => AuthorizationManager::new(url_owned.as_str())
                    .await
                    .map_err(|e| e.to_string())?,
            };
            if let Some(http) = trusting.filter(|_| !bound) {
                manager.with_client(http).map_err(|e| e.to_string())?;
            }
            let resolution = manager
                .resolve_metadata()
                .await
                .map_err(|e| e.to_string())?;
            let mut metadata = resolution.metadata;
            if let Some(token_url) = token_url {
                metadata.token_endpoint = token_url;
            }
            manager.set_metadata(metadata.clone());
            manager
                .configure_client_credentials(&config)
                .map_err(|e| e.to_string())?;
            let token = manager
                .exchange_client_credentials(&config)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((metadata, token))
        })
    })
    .await
    .map_err(|e| Failure::new(Kind::Internal, e.to_string()))?;
    let (metadata, token) = exchanged
        .map_err(|e| auth_failure(server, format!("the client credentials grant failed: {e}")))?;
    let issuer = metadata.issuer.clone();
    let credentials = StoredCredentials::new(client_id.clone(), Some(token), scopes, Some(now()))
        .with_issuer(issuer.clone());
    register_secrets(&Entry {
        credentials: Some(credentials.clone()),
        ..Entry::default()
    });
    store.update(url, |entry| {
        entry.server = Some(server.name.clone());
        entry.issuer = issuer;
        entry.metadata = Some(metadata);
        entry.client = Some(Registration {
            client_id,
            client_secret: None,
            redirect_uri: None,
            source: ClientSource::Config,
            token_endpoint_auth_method: None,
        });
        entry.credentials = Some(credentials);
        entry.dpop_key = super::stored_key(binding.as_ref());
    })?;
    Ok(())
}

/// The DPoP binding of a client-credentials token, when `oauth.dpop` and (`auto`) the MCP
/// server's challenge call for one: the stored key when there is one, else a new one. Decided
/// before the manager is made, so that it gets rmcp's own client unless DPoP needs ours.
async fn dpop_binding(
    server: &ServerConfig,
    oauth: &crate::config::OAuthConfig,
    entry: &Entry,
    url: &str,
) -> Result<Option<std::sync::Arc<super::dpop_http::Binding>>, Failure> {
    use super::dpop::{DpopKey, Mode};
    let mode = oauth.dpop.unwrap_or_default();
    let demanded = match (mode, &server.transport) {
        (Mode::Auto, crate::config::Transport::Http { headers, .. }) => {
            let http = crate::mcp::http_client_trusting(server.ca_file.as_deref())?;
            super::probe::probe_challenge(&http, url, headers)
                .await
                .as_deref()
                .is_some_and(super::dpop::demanded)
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
    Ok(Some(super::dpop_http::Binding::new(key)))
}

/// The client-credentials grant's client authentication: a secret, or a signed JWT.
fn credentials_config(
    server: &ServerConfig,
    oauth: &crate::config::OAuthConfig,
    client_id: &str,
    url: &str,
) -> Result<ClientCredentialsConfig, Failure> {
    use rmcp::transport::auth::JwtSigningAlgorithm;
    match (&oauth.client_secret, &oauth.private_key_file) {
        (_, Some(key_file)) => {
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
        (Some(client_secret), None) => Ok(ClientCredentialsConfig::ClientSecret {
            client_id: client_id.to_string(),
            client_secret: client_secret.clone(),
            scopes: oauth.scopes.clone(),
            resource: Some(url.to_string()),
        }),
        (None, None) => Err(Failure::config(format!(
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

    #[test]
    fn finds_the_curve_of_pkcs8_ec_keys() {
        assert_eq!(pkcs8_curve(P256), Some(256));
        assert_eq!(pkcs8_curve(P384), Some(384));
        assert_eq!(pkcs8_curve(RSA), None);
    }
}

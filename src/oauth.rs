//! OAuth 2.x for MCP servers, on top of rmcp's auth module: `auth login` (discovery,
//! registration, PKCE, loopback callback, browser), the authorized HTTP client every command
//! uses (proactive and reactive refresh through the token store), and client credentials.
//!
//! Guarantees: only `auth login` opens a browser; tokens, secrets and codes are never printed
//! (the store registers them with `redact`); the callback listens on 127.0.0.1 only, accepts
//! one callback with the right `state`, and gives up after the timeout.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rmcp::transport::auth::{
    AuthorizationManager, AuthorizationRequest, AuthorizationSession, ClientCredentialsConfig,
    OAuthClientConfig, StoredCredentials,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{AuthType, ServerConfig, Transport};
use crate::exit::{Failure, Kind};
use crate::redact;
use crate::store::{ClientSource, Entry, Registration, ServerCredentials, TokenStore};

/// The store key of a server: its URL exactly as configured.
pub fn key(server: &ServerConfig) -> Option<&str> {
    match &server.transport {
        Transport::Http { url, .. } => Some(url.as_str()),
        Transport::Stdio { .. } => None,
    }
}

fn auth_failure(server: &ServerConfig, what: impl std::fmt::Display) -> Failure {
    Failure::new(
        Kind::Auth,
        format!(
            "OAuth for MCP server `{}`: {}",
            server.name,
            redact::text(&what.to_string())
        ),
    )
}

fn login_hint(server: &ServerConfig) -> String {
    format!("run: mcpchat auth login {}", server.name)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Register every secret in an entry with `redact`, so none can reach a message.
fn register_secrets(entry: &Entry) {
    if let Some(client) = &entry.client
        && let Some(secret) = &client.client_secret
    {
        redact::register(secret);
    }
    if let Some(credentials) = &entry.credentials
        && let Some(token) = &credentials.token_response
    {
        use oauth2::TokenResponse;
        redact::register(token.access_token().secret());
        if let Some(refresh) = token.refresh_token() {
            redact::register(refresh.secret());
        }
    }
}

/// When the stored access token expires (seconds since the epoch), if known.
pub fn expires_at(credentials: &StoredCredentials) -> Option<u64> {
    use oauth2::TokenResponse;
    let token = credentials.token_response.as_ref()?;
    Some(credentials.token_received_at? + token.expires_in()?.as_secs())
}

fn has_refresh_token(credentials: &StoredCredentials) -> bool {
    use oauth2::TokenResponse;
    credentials
        .token_response
        .as_ref()
        .is_some_and(|t| t.refresh_token().is_some())
}

/// A manager for `server` that reads and writes the store, configured with the stored client.
async fn stored_manager(
    server: &ServerConfig,
    store: &TokenStore,
    entry: &Entry,
) -> Result<Option<AuthorizationManager>, Failure> {
    let Some(url) = key(server) else {
        return Ok(None);
    };
    let Some(client) = &entry.client else {
        return Ok(None);
    };
    let mut manager = AuthorizationManager::new(url)
        .await
        .map_err(|e| auth_failure(server, e))?;
    manager.set_credential_store(ServerCredentials {
        store: store.clone(),
        key: url.to_string(),
    });
    match (&entry.metadata, &entry.resource) {
        // The refresh `resource` defaults to the server URL; when the protected resource named
        // another value, discovery is needed to send it byte for byte.
        (Some(metadata), resource) if resource.as_deref().is_none_or(|r| r == url) => {
            manager.set_metadata(metadata.clone())
        }
        _ => {
            let resolution = manager
                .resolve_metadata()
                .await
                .map_err(|e| auth_failure(server, e))?;
            manager.set_metadata(resolution.metadata);
        }
    }
    let scopes = entry
        .credentials
        .as_ref()
        .map(|c| c.granted_scopes.clone())
        .unwrap_or_default();
    let mut config = OAuthClientConfig::new(
        client.client_id.clone(),
        client
            .redirect_uri
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1/callback".to_string()),
    )
    .with_scopes(scopes);
    if let Some(secret) = &client.client_secret {
        config = config.with_client_secret(secret.clone());
    }
    manager
        .configure_client(config)
        .map_err(|e| auth_failure(server, e))?;
    Ok(Some(manager))
}

/// The HTTP client a command uses for an OAuth or client-credentials server: it sends the
/// stored token, refreshes it shortly before expiry and once after a 401. `None` when there
/// is nothing stored (the server's 401 then ends the command with exit 3 and a hint).
pub async fn authorized_client(
    server: &ServerConfig,
    store: &TokenStore,
    http: &reqwest::Client,
) -> Result<Option<crate::oauth_http::OAuthHttp>, Failure> {
    let Some(url) = key(server) else {
        return Ok(None);
    };
    if server.auth_type == AuthType::ClientCredentials {
        ensure_client_credentials(server, store, false).await?;
    }
    let Some(entry) = store.get(url)? else {
        return Ok(None);
    };
    if entry
        .credentials
        .as_ref()
        .and_then(|c| c.token_response.as_ref())
        .is_none()
    {
        return Ok(None);
    }
    register_secrets(&entry);
    let Some(manager) = stored_manager(server, store, &entry).await? else {
        return Ok(None);
    };
    Ok(Some(crate::oauth_http::OAuthHttp {
        http: http.clone(),
        tokens: std::sync::Arc::new(crate::oauth_http::TokenSource::new(
            manager,
            store.clone(),
            url.to_string(),
        )),
    }))
}

/// A valid access token for `auth token`, refreshed if needed.
pub async fn access_token(server: &ServerConfig, store: &TokenStore) -> Result<String, Failure> {
    let url = key(server).ok_or_else(|| {
        Failure::usage(format!(
            "MCP server `{}` is a stdio server: it has no token",
            server.name
        ))
    })?;
    if server.auth_type == AuthType::ClientCredentials {
        ensure_client_credentials(server, store, false).await?;
    }
    let entry = store.get(url)?.unwrap_or_default();
    if entry
        .credentials
        .as_ref()
        .and_then(|c| c.token_response.as_ref())
        .is_none()
    {
        return Err(Failure::new(
            Kind::Auth,
            format!("not logged in to MCP server `{}`", server.name),
        )
        .hint(login_hint(server)));
    }
    register_secrets(&entry);
    let manager = stored_manager(server, store, &entry)
        .await?
        .ok_or_else(|| {
            Failure::new(
                Kind::Auth,
                format!("not logged in to MCP server `{}`", server.name),
            )
            .hint(login_hint(server))
        })?;
    let tokens = crate::oauth_http::TokenSource::new(manager, store.clone(), url.to_string());
    let token = tokens
        .token()
        .await
        .map_err(|e| auth_failure(server, e))?
        .ok_or_else(|| {
            Failure::new(
                Kind::Auth,
                format!(
                    "the stored token for MCP server `{}` has expired and cannot be refreshed",
                    server.name
                ),
            )
            .hint(login_hint(server))
        })?;
    Ok(token)
}

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
    let exchanged = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let mut manager = AuthorizationManager::new(url_owned.as_str())
                .await
                .map_err(|e| e.to_string())?;
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
        });
        entry.credentials = Some(credentials);
    })?;
    Ok(())
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

/// How `auth login` behaves.
pub struct LoginOptions {
    pub open_browser: bool,
    pub timeout: Duration,
}

/// The interactive authorization-code flow with PKCE for one server.
pub async fn login(
    server: &ServerConfig,
    store: &TokenStore,
    http: &reqwest::Client,
    options: &LoginOptions,
) -> Result<(), Failure> {
    if server.auth_type == AuthType::ClientCredentials {
        return ensure_client_credentials(server, store, true).await;
    }
    let Transport::Http { url, headers } = &server.transport else {
        return Err(Failure::usage(format!(
            "MCP server `{}` is a stdio server: there is nothing to log in to",
            server.name
        )));
    };
    let oauth = server.oauth.clone().unwrap_or_default();
    let challenge = probe_challenge(http, url, headers).await;
    tracing::info!(server = %server.name, challenge = challenge.is_some(), "starting OAuth discovery");

    let mut manager = AuthorizationManager::new(url.as_str())
        .await
        .map_err(|e| auth_failure(server, e))?;
    manager.set_credential_store(ServerCredentials {
        store: store.clone(),
        key: url.clone(),
    });
    let resolution = manager
        .resolve_metadata_from_challenge(challenge.as_deref())
        .await
        .map_err(|e| auth_failure(server, format!("discovery failed: {e}")))?;
    let mut metadata = resolution.metadata;
    if let Some(auth_url) = &oauth.auth_url {
        metadata.authorization_endpoint = auth_url.clone();
    }
    if let Some(token_url) = &oauth.token_url {
        metadata.token_endpoint = token_url.clone();
    }
    if !resolution.source.is_discovered() && oauth.auth_url.is_none() {
        return Err(auth_failure(
            server,
            "the server publishes no OAuth metadata (RFC 9728 / RFC 8414)",
        )
        .hint("set oauth.auth_url and oauth.token_url in the config if it uses fixed endpoints"));
    }
    let s256 = metadata
        .code_challenge_methods_supported
        .as_ref()
        .is_some_and(|methods| methods.iter().any(|m| m == "S256"));
    if !s256 && oauth.auth_url.is_none() {
        return Err(auth_failure(
            server,
            "the authorization server does not advertise PKCE S256 (code_challenge_methods_supported); refusing to log in",
        ));
    }
    let issuer = metadata.issuer.clone();
    manager.set_metadata(metadata.clone());

    let previous = store.get(url)?.unwrap_or_default();
    register_secrets(&previous);
    // Reuse a dynamic registration when its redirect port can be had again.
    let reusable = previous.client.clone().filter(|c| {
        c.source == ClientSource::Dynamic && previous.issuer == issuer && oauth.client_id.is_none()
    });
    let wanted_port = oauth.redirect_port.or_else(|| {
        reusable
            .as_ref()
            .and_then(|c| c.redirect_uri.as_deref())
            .and_then(port_of)
    });
    let listener =
        match tokio::net::TcpListener::bind(("127.0.0.1", wanted_port.unwrap_or(0))).await {
            Ok(listener) => listener,
            Err(e) if oauth.redirect_port.is_some() => {
                return Err(auth_failure(
                    server,
                    format!(
                        "cannot listen on 127.0.0.1:{} for the callback: {e}",
                        wanted_port.unwrap_or(0)
                    ),
                ));
            }
            Err(_) => tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| {
                    auth_failure(
                        server,
                        format!("cannot listen on 127.0.0.1 for the callback: {e}"),
                    )
                })?,
        };
    let port = listener
        .local_addr()
        .map_err(|e| auth_failure(server, e))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");

    let mut scopes = if oauth.scopes.is_empty() {
        manager.select_initial_scopes(&[]).await
    } else {
        oauth.scopes.clone()
    };
    // Step-up: scopes a server asked for (403 insufficient_scope) since the last login, plus
    // what was granted before, so that re-authorizing never loses access.
    if !previous.required_scopes.is_empty() {
        let granted = previous
            .credentials
            .as_ref()
            .map(|c| c.granted_scopes.clone())
            .unwrap_or_default();
        for scope in granted
            .into_iter()
            .chain(previous.required_scopes.iter().cloned())
        {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
    }
    let mut request = AuthorizationRequest::new(redirect_uri.clone())
        .with_client_name("mcpchat")
        .with_scopes(scopes.clone());
    let registration = if let Some(client_id) = &oauth.client_id {
        Registration {
            client_id: client_id.clone(),
            client_secret: oauth.client_secret.clone(),
            redirect_uri: Some(redirect_uri.clone()),
            source: ClientSource::Config,
        }
    } else if let Some(client) =
        reusable.filter(|c| c.redirect_uri.as_deref() == Some(redirect_uri.as_str()))
    {
        client
    } else if let Some(metadata_url) = oauth.client_metadata_url.clone().filter(|_| {
        metadata
            .additional_fields
            .get("client_id_metadata_document_supported")
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }) {
        Registration {
            client_id: metadata_url,
            client_secret: None,
            redirect_uri: Some(redirect_uri.clone()),
            source: ClientSource::MetadataDocument,
        }
    } else if let Some(endpoint) = metadata.registration_endpoint.clone() {
        register(server, http, &endpoint, &metadata, &redirect_uri, &scopes).await?
    } else {
        return Err(auth_failure(server, "the authorization server offers no dynamic client registration")
            .hint("register a client with it and set oauth.client_id (and oauth.client_secret) in the config"));
    };
    if let Some(secret) = &registration.client_secret {
        redact::register(secret);
    }
    request = request.with_preregistered_client(registration.client_id.clone());
    if let Some(secret) = &registration.client_secret {
        request = request.with_client_secret(secret.clone());
    }
    let session = AuthorizationSession::new(manager, request)
        .await
        .map_err(|(_, e)| auth_failure(server, e))?;
    // Nothing is written before the login completes: an abandoned attempt must not pair the
    // stored tokens with a client that did not issue them.

    let auth_url = session.get_authorization_url().to_string();
    let query_param = |name: &str| {
        url::Url::parse(&auth_url).ok().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
    };
    let state = query_param("state")
        .ok_or_else(|| auth_failure(server, "the authorization URL has no state parameter"))?;
    // The RFC 8707 resource rmcp discovered (and will send again on refresh).
    let resource = query_param("resource");
    redact::register(&state);
    present_url(server, &auth_url, options.open_browser);

    let callback = tokio::time::timeout(options.timeout, wait_for_callback(&listener, &state))
        .await
        .map_err(|_| {
            Failure::new(
                Kind::Auth,
                format!(
                    "no authorization callback for MCP server `{}` within {}",
                    server.name,
                    crate::mcp::human(options.timeout)
                ),
            )
            .hint("finish the login in the browser, or raise the limit with --timeout SECS")
        })??;
    redact::register(&callback.code);
    session
        .handle_callback_with_issuer(&callback.code, &state, callback.issuer.as_deref())
        .await
        .map_err(|e| auth_failure(server, format!("the token exchange failed: {e}")))?;
    store.update(url, |entry| {
        entry.server = Some(server.name.clone());
        entry.client = Some(registration.clone());
        entry.issuer = issuer.clone();
        entry.metadata = Some(metadata.clone());
        entry.resource = resource.clone();
        entry.required_scopes.clear();
    })?;
    Ok(())
}

/// RFC 7591 dynamic registration as a native app. A confidential client (`client_secret_post`)
/// when the server supports it, since mcpchat keeps the secret in its 0600 store (and persists
/// it, unlike rmcp: issue #784); a public client (`none`) otherwise.
async fn register(
    server: &ServerConfig,
    http: &reqwest::Client,
    endpoint: &str,
    metadata: &rmcp::transport::auth::AuthorizationMetadata,
    redirect_uri: &str,
    scopes: &[String],
) -> Result<Registration, Failure> {
    let methods: Vec<String> = metadata
        .additional_fields
        .get("token_endpoint_auth_methods_supported")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let method = if methods.iter().any(|m| m == "client_secret_post") {
        "client_secret_post"
    } else if methods.is_empty() || methods.iter().any(|m| m == "none") {
        "none"
    } else if methods.iter().any(|m| m == "client_secret_basic") {
        "client_secret_basic"
    } else {
        "none"
    };
    let mut body = serde_json::json!({
        "client_name": "mcpchat",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "application_type": "native",
    });
    if !scopes.is_empty() {
        body["scope"] = serde_json::json!(scopes.join(" "));
    }
    let response = http
        .post(endpoint)
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| auth_failure(server, format!("dynamic client registration failed: {e}")))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(auth_failure(
            server,
            format!(
                "dynamic client registration failed: HTTP {status}: {}",
                text.trim()
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        auth_failure(
            server,
            format!("the registration response is not JSON: {e}"),
        )
    })?;
    let client_id = value
        .get("client_id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| auth_failure(server, "the registration response has no client_id"))?
        .to_string();
    let client_secret = value
        .get("client_secret")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    if let Some(secret) = &client_secret {
        redact::register(secret);
    }
    tracing::info!(server = %server.name, method, confidential = client_secret.is_some(), "registered a client");
    Ok(Registration {
        client_id,
        client_secret,
        redirect_uri: Some(redirect_uri.to_string()),
        source: ClientSource::Dynamic,
    })
}

fn port_of(uri: &str) -> Option<u16> {
    url::Url::parse(uri).ok()?.port()
}

/// An unauthenticated initialize, to read the server's `WWW-Authenticate` challenge.
async fn probe_challenge(
    http: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
) -> Option<String> {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "mcpchat", "version": env!("CARGO_PKG_VERSION")}}
    });
    let mut request = http
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&body)
        .timeout(Duration::from_secs(30));
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("authorization") {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.ok()?;
    if let Some(challenge) = bearer_challenge(&response) {
        return Some(challenge);
    }
    // Some servers let `initialize` through and challenge the first real request.
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let _ = response.bytes().await;
    let list = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let mut request = http
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&list)
        .timeout(Duration::from_secs(30));
    if let Some(session) = &session {
        request = request.header("Mcp-Session-Id", session);
    }
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("authorization") {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.ok()?;
    let challenge = bearer_challenge(&response);
    if let Some(session) = session {
        let _ = http
            .delete(url)
            .header("Mcp-Session-Id", session)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
    }
    challenge
}

fn bearer_challenge(response: &reqwest::Response) -> Option<String> {
    if response.status() != reqwest::StatusCode::UNAUTHORIZED
        && response.status() != reqwest::StatusCode::FORBIDDEN
    {
        return None;
    }
    response
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.to_ascii_lowercase().starts_with("bearer"))
        .map(str::to_string)
}

/// Open the browser (`$BROWSER`, else the platform opener), or print the URL.
fn present_url(server: &ServerConfig, auth_url: &str, open: bool) {
    #[allow(clippy::print_stderr)]
    let say = |text: String| eprintln!("{text}");
    if !open {
        say(format!(
            "To log in to MCP server `{}`, open this URL in a browser:\n\n  {auth_url}\n",
            server.name
        ));
        return;
    }
    let command: Option<Vec<String>> = match std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        Some(browser) => shlex::split(&browser)
            .filter(|w| !w.is_empty())
            .map(|mut words| {
                if words.iter().any(|w| w.contains("%s")) {
                    words
                        .iter_mut()
                        .for_each(|w| *w = w.replace("%s", auth_url));
                } else {
                    words.push(auth_url.to_string());
                }
                words
            }),
        None if cfg!(target_os = "macos") => Some(vec!["open".to_string(), auth_url.to_string()]),
        None => Some(vec!["xdg-open".to_string(), auth_url.to_string()]),
    };
    let spawned = command.and_then(|words| {
        std::process::Command::new(&words[0])
            .args(&words[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()
    });
    match spawned {
        Some(mut child) => {
            say(format!(
                "Opening the browser to log in to MCP server `{}`. If it does not open, visit:\n\n  {auth_url}\n",
                server.name
            ));
            // Reap it whenever it ends; we do not wait for it.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        None => say(format!(
            "Could not open a browser. To log in to MCP server `{}`, visit:\n\n  {auth_url}\n",
            server.name
        )),
    }
}

struct Callback {
    code: String,
    issuer: Option<String>,
}

/// Serve the loopback redirect until one request carries the expected `state`.
async fn wait_for_callback(
    listener: &tokio::net::TcpListener,
    state: &str,
) -> Result<Callback, Failure> {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            while !buffer.windows(4).any(|w| w == b"\r\n\r\n") && buffer.len() < 65536 {
                match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        if read.is_err() {
            continue;
        }
        let head = String::from_utf8_lossy(&buffer);
        let target = head
            .lines()
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .unwrap_or("/");
        let parsed = url::Url::parse(&format!("http://127.0.0.1{target}")).ok();
        let param = |name: &str| {
            parsed.as_ref().and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            })
        };
        if parsed.as_ref().is_none_or(|u| u.path() != "/callback") {
            respond(
                &mut socket,
                404,
                "Not found",
                "This is mcpchat's login callback; nothing here.",
            )
            .await;
            continue;
        }
        if param("state").as_deref() != Some(state) {
            tracing::warn!("ignored an authorization callback with a wrong state");
            respond(&mut socket, 400, "Login failed", "The state parameter does not match this login attempt. Start again with `mcpchat auth login`.").await;
            continue;
        }
        if let Some(error) = param("error") {
            let description = param("error_description").unwrap_or_default();
            respond(
                &mut socket,
                400,
                "Login failed",
                &format!("The authorization server said: {error} {description}"),
            )
            .await;
            return Err(Failure::new(
                Kind::Auth,
                format!("the authorization server refused: {error} {description}")
                    .trim()
                    .to_string(),
            ));
        }
        let Some(code) = param("code") else {
            respond(
                &mut socket,
                400,
                "Login failed",
                "The callback carries no authorization code.",
            )
            .await;
            continue;
        };
        respond(
            &mut socket,
            200,
            "Logged in",
            "mcpchat is logged in. You can close this window.",
        )
        .await;
        return Ok(Callback {
            code,
            issuer: param("iss"),
        });
    }
}

async fn respond(socket: &mut tokio::net::TcpStream, status: u16, title: &str, text: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// What `auth status` reports for one server (never a token).
pub fn describe(
    server: &ServerConfig,
    store: &TokenStore,
) -> Result<crate::events::AuthStatus, Failure> {
    let auth_type = match server.auth_type {
        AuthType::Token => "token",
        AuthType::Oauth => "oauth",
        AuthType::ClientCredentials => "client_credentials",
        AuthType::None => "none",
    };
    let oauth_like = matches!(
        server.auth_type,
        AuthType::Oauth | AuthType::ClientCredentials
    );
    let entry = match key(server) {
        Some(url) if oauth_like => store.get(url)?,
        _ => None,
    };
    let credentials = entry
        .as_ref()
        .and_then(|e| e.credentials.clone())
        .filter(|c| c.token_response.is_some());
    let expires = credentials.as_ref().and_then(expires_at);
    let refreshable = credentials.as_ref().is_some_and(has_refresh_token);
    Ok(crate::events::AuthStatus {
        server: server.name.clone(),
        auth_type,
        logged_in: oauth_like
            .then(|| credentials.is_some() && (refreshable || expires.is_none_or(|at| at > now()))),
        expires_at: expires,
        expired: expires.map(|at| at <= now()),
        scopes: credentials
            .as_ref()
            .map(|c| c.granted_scopes.clone())
            .unwrap_or_default(),
        refreshable,
        issuer: entry.as_ref().and_then(|e| e.issuer.clone()),
        client_id: entry
            .as_ref()
            .and_then(|e| e.client.as_ref().map(|c| c.client_id.clone())),
    })
}

/// Forget a server's tokens (and its client registration with `forget_client`).
pub fn logout(
    server: &ServerConfig,
    store: &TokenStore,
    forget_client: bool,
) -> Result<(), Failure> {
    let Some(url) = key(server) else {
        return Ok(());
    };
    store.update(url, |entry| {
        entry.credentials = None;
        if forget_client {
            entry.client = None;
            entry.metadata = None;
            entry.issuer = None;
        }
    })
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

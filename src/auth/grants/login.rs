//! `auth login`: the interactive authorization-code flow with PKCE for one server.

use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::auth::{
    AuthorizationManager, AuthorizationMetadata, AuthorizationRequest, AuthorizationSession,
    StoredCredentials,
};

use super::device::{self, DeviceRequest};
use crate::auth::browser::present_url;
use crate::auth::callback::wait_for_callback;
use crate::auth::client_auth::{Method, metadata_for, method_for};
use crate::auth::probe::probe_challenge;
use crate::auth::registration::register;
use crate::auth::store::{ClientSource, Entry, Registration, ServerCredentials, TokenStore};
use crate::auth::{auth_failure, register_secrets};
use crate::auth::{ensure_token, is_headless};
use crate::config::{OAuthConfig, ServerConfig, Transport};
use crate::events::AuthPrompt;
use crate::exit::{Failure, Kind};
use crate::redact;

/// How `auth login` behaves.
pub struct LoginOptions {
    pub open_browser: bool,
    /// The device authorization grant instead of a browser (also chosen when no browser can
    /// be opened and the server offers it).
    pub device: bool,
    pub timeout: Duration,
    /// Shows the user what to do in a device login (stderr and an `auth_prompt` line).
    pub prompt: Arc<dyn Fn(&AuthPrompt) + Send + Sync>,
}

/// The interactive authorization-code flow with PKCE for one server. Nothing is written to
/// the store before the login completes: an abandoned attempt must not pair the stored tokens
/// with a client that did not issue them.
pub async fn login(
    server: &ServerConfig,
    store: &TokenStore,
    http: &reqwest::Client,
    options: &LoginOptions,
) -> Result<(), Failure> {
    if is_headless(server.auth_type) {
        return ensure_token(server, store, true).await;
    }
    let Transport::Http { url, headers } = &server.transport else {
        return Err(Failure::usage(format!(
            "MCP server `{}` is a stdio server: there is nothing to log in to",
            server.name
        )));
    };
    let oauth = server.oauth.clone().unwrap_or_default();
    // The challenge first: whether the tokens are DPoP-bound decides whether the manager's
    // (guarded) OAuth client adds proofs.
    let challenge = probe_challenge(http, url, headers).await;
    let binding = crate::auth::new_binding(server, challenge.as_deref())?;
    let mut manager = crate::auth::manager_for(server, url, binding.as_ref()).await?;
    manager.set_credential_store(ServerCredentials {
        store: store.clone(),
        key: url.clone(),
    });
    let metadata = discover(server, &mut manager, challenge.as_deref(), &oauth).await?;
    let issuer = metadata.issuer.clone();
    manager.set_metadata(metadata.clone());

    let previous = store.get(url)?.unwrap_or_default();
    register_secrets(&previous);
    // Reuse a dynamic registration when its redirect port can be had again.
    let reusable = previous.client.clone().filter(|c| {
        c.source == ClientSource::Dynamic && previous.issuer == issuer && oauth.client_id.is_none()
    });
    let no_browser = options.open_browser && !crate::auth::browser::can_open();
    let guarded = crate::auth::guard::Guarded::new(server, url)?;
    let found = Discovered {
        server,
        store,
        http: &guarded,
        options,
        url,
        oauth: &oauth,
        metadata: &metadata,
        previous: &previous,
        binding: binding.as_ref(),
    };
    if options.device || (no_browser && device::endpoint(&metadata).is_some()) {
        return login_device(&found, manager, reusable).await;
    }
    login_browser(&found, manager, reusable).await
}

/// The RFC 8707 resource exactly as rmcp sends it in the browser flow (and on refresh).
async fn resource_parameter(
    manager: &AuthorizationManager,
    scopes: &[String],
    url: &str,
) -> String {
    let scope_refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
    manager
        .get_authorization_url(&scope_refs)
        .await
        .ok()
        .and_then(|auth_url| {
            url::Url::parse(&auth_url).ok().and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "resource")
                    .map(|(_, v)| v.into_owned())
            })
        })
        .unwrap_or_else(|| url.to_string())
}

/// The authorization-code flow: a callback listener, the browser, the code exchange.
async fn login_browser(
    found: &Discovered<'_>,
    mut manager: AuthorizationManager,
    reusable: Option<Registration>,
) -> Result<(), Failure> {
    let (server, oauth, metadata) = (found.server, found.oauth, found.metadata);
    let listener = listen(server, oauth, reusable.as_ref()).await?;
    let port = listener
        .local_addr()
        .map_err(|e| auth_failure(server, e))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let scopes = scopes(&manager, oauth, found.previous).await;
    let (registration, method) = registered(found, reusable, &redirect_uri, &scopes).await?;
    manager.set_metadata(metadata_for(metadata, method));
    let mut request = AuthorizationRequest::new(redirect_uri.clone())
        .with_client_name("mcpchat")
        .with_scopes(scopes)
        .with_preregistered_client(registration.client_id.clone());
    if method != Method::None
        && let Some(secret) = &registration.client_secret
    {
        request = request.with_client_secret(secret.clone());
    }
    let session = AuthorizationSession::new(manager, request)
        .await
        .map_err(|(_, e)| auth_failure(server, e))?;
    let resource = authorize(server, &session, &listener, found.options).await?;
    // The tokens are in the store already (rmcp's session wrote them through it).
    found.save(registration, resource, None)
}

/// The client to log in with (configured, reused or newly registered), its secret registered
/// for masking, and how it authenticates at the token endpoint (as registered, see
/// client_auth), recorded in the registration.
async fn registered(
    found: &Discovered<'_>,
    reusable: Option<Registration>,
    redirect_uri: &str,
    scopes: &[String],
) -> Result<(Registration, Method), Failure> {
    let server = found.server;
    let mut registration = client(
        server,
        found.http,
        found.oauth,
        reusable,
        found.metadata,
        redirect_uri,
        scopes,
    )
    .await?;
    if let Some(secret) = &registration.client_secret {
        redact::register(secret);
    }
    let method = method_for(server, &registration, found.metadata)?;
    registration.token_endpoint_auth_method = Some(method.name().to_string());
    Ok((registration, method))
}

/// What discovery found, for the device flow.
struct Discovered<'a> {
    server: &'a ServerConfig,
    store: &'a TokenStore,
    /// For the requests to the endpoints discovery found (registration, device).
    http: &'a crate::auth::guard::Guarded,
    options: &'a LoginOptions,
    url: &'a str,
    oauth: &'a OAuthConfig,
    metadata: &'a AuthorizationMetadata,
    previous: &'a Entry,
    /// The DPoP key of this login, if any.
    binding: Option<&'a Arc<crate::auth::dpop_http::Binding>>,
}

/// `auth login --device`: RFC 8628 with the same client choice as the browser flow; the
/// tokens and the client are stored like the browser flow's.
async fn login_device(
    found: &Discovered<'_>,
    mut manager: AuthorizationManager,
    reusable: Option<Registration>,
) -> Result<(), Failure> {
    let (server, oauth, metadata) = (found.server, found.oauth, found.metadata);
    // Before registering anything.
    device::require_endpoint(server, metadata)?;
    let mut scopes = scopes(&manager, oauth, found.previous).await;
    let offline = metadata
        .scopes_supported
        .as_ref()
        .is_some_and(|s| s.iter().any(|s| s == "offline_access"));
    if offline && !scopes.iter().any(|s| s == "offline_access") {
        scopes.push("offline_access".to_string());
    }
    // No callback in this flow: a reusable registration keeps its redirect URI.
    let redirect_uri = reusable
        .as_ref()
        .and_then(|c| c.redirect_uri.clone())
        .unwrap_or_else(|| "http://127.0.0.1/callback".to_string());
    let (registration, _) = registered(found, reusable, &redirect_uri, &scopes).await?;
    crate::auth::client_auth::configure(
        server,
        &mut manager,
        metadata,
        &registration,
        scopes.clone(),
    )?;
    let resource = resource_parameter(&manager, &scopes, found.url).await;
    let request = DeviceRequest {
        server,
        http: found.http,
        metadata,
        client: &registration,
        scopes: &scopes,
        resource: &resource,
        timeout: found.options.timeout,
        dpop: found.binding.map(|b| b.key()),
    };
    let tokens = device::device_login(&request, found.options.prompt.as_ref()).await?;
    register_secrets(&Entry {
        credentials: Some(tokens.credentials.clone()),
        ..Entry::default()
    });
    found.save(registration, Some(resource), Some(tokens.credentials))
}

impl Discovered<'_> {
    /// Store what the login ended with: the client, the issuer and its metadata, the
    /// resource, the DPoP key, and (device flow) the tokens.
    fn save(
        &self,
        registration: Registration,
        resource: Option<String>,
        credentials: Option<StoredCredentials>,
    ) -> Result<(), Failure> {
        self.store.update(self.url, |entry| {
            entry.server = Some(self.server.name.clone());
            entry.client = Some(registration);
            entry.issuer = self.metadata.issuer.clone();
            entry.metadata = Some(self.metadata.clone());
            entry.resource = resource;
            if let Some(credentials) = credentials {
                entry.credentials = Some(credentials);
            }
            entry.required_scopes.clear();
            entry.dpop_key = crate::auth::stored_key(self.binding);
        })
    }
}

/// RFC 9728 / RFC 8414 discovery from the server's challenge, with the config's endpoint
/// overrides; refuses an authorization server without PKCE S256.
async fn discover(
    server: &ServerConfig,
    manager: &mut AuthorizationManager,
    challenge: Option<&str>,
    oauth: &OAuthConfig,
) -> Result<AuthorizationMetadata, Failure> {
    tracing::info!(server = %server.name, challenge = challenge.is_some(), "starting OAuth discovery");
    let resolution = manager
        .resolve_metadata_from_challenge(challenge)
        .await
        .map_err(|e| {
            auth_failure(
                server,
                format!("discovery failed: {}", crate::auth::guard::chain(&e)),
            )
        })?;
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
    crate::auth::guard::require_tls(&metadata).map_err(|why| auth_failure(server, why))?;
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
    Ok(metadata)
}

/// The loopback listener for the redirect: the configured port, else the port of a reusable
/// registration, else any free port.
async fn listen(
    server: &ServerConfig,
    oauth: &OAuthConfig,
    reusable: Option<&Registration>,
) -> Result<tokio::net::TcpListener, Failure> {
    let wanted_port = oauth.redirect_port.or_else(|| {
        reusable
            .and_then(|c| c.redirect_uri.as_deref())
            .and_then(port_of)
    });
    match tokio::net::TcpListener::bind(("127.0.0.1", wanted_port.unwrap_or(0))).await {
        Ok(listener) => Ok(listener),
        Err(e) if oauth.redirect_port.is_some() => Err(auth_failure(
            server,
            format!(
                "cannot listen on 127.0.0.1:{} for the callback: {e}",
                wanted_port.unwrap_or(0)
            ),
        )),
        Err(_) => tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| {
                auth_failure(
                    server,
                    format!("cannot listen on 127.0.0.1 for the callback: {e}"),
                )
            }),
    }
}

/// The scopes to ask for: configured, else rmcp's selection; plus, for step-up, what was
/// granted before and what a server asked for since (403 insufficient_scope), so that
/// re-authorizing never loses access.
async fn scopes(
    manager: &AuthorizationManager,
    oauth: &OAuthConfig,
    previous: &Entry,
) -> Vec<String> {
    let mut scopes = if oauth.scopes.is_empty() {
        manager.select_initial_scopes(&[]).await
    } else {
        oauth.scopes.clone()
    };
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
    scopes
}

/// Which client logs in: pre-registered (config) > a reusable dynamic registration > a client
/// ID metadata document > RFC 7591 dynamic registration.
async fn client(
    server: &ServerConfig,
    http: &crate::auth::guard::Guarded,
    oauth: &OAuthConfig,
    reusable: Option<Registration>,
    metadata: &AuthorizationMetadata,
    redirect_uri: &str,
    scopes: &[String],
) -> Result<Registration, Failure> {
    if let Some(client_id) = &oauth.client_id {
        return Ok(Registration {
            client_id: client_id.clone(),
            client_secret: oauth.client_secret.clone(),
            redirect_uri: Some(redirect_uri.to_string()),
            source: ClientSource::Config,
            token_endpoint_auth_method: None,
        });
    }
    if let Some(client) = reusable.filter(|c| c.redirect_uri.as_deref() == Some(redirect_uri)) {
        return Ok(client);
    }
    let metadata_documents = metadata
        .additional_fields
        .get("client_id_metadata_document_supported")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if let Some(metadata_url) = oauth
        .client_metadata_url
        .clone()
        .filter(|_| metadata_documents)
    {
        return Ok(Registration {
            client_id: metadata_url,
            client_secret: None,
            redirect_uri: Some(redirect_uri.to_string()),
            source: ClientSource::MetadataDocument,
            token_endpoint_auth_method: Some(Method::None.name().to_string()),
        });
    }
    match metadata.registration_endpoint.clone() {
        Some(endpoint) => register(server, http, &endpoint, metadata, redirect_uri, scopes).await,
        None => Err(auth_failure(server, "the authorization server offers no dynamic client registration")
            .hint("register a client with it and set oauth.client_id (and oauth.client_secret) in the config")),
    }
}

/// The user's part: show the authorization URL, wait for the callback, exchange the code.
/// Returns the RFC 8707 resource rmcp sent (it sends it again on refresh).
async fn authorize(
    server: &ServerConfig,
    session: &AuthorizationSession,
    listener: &tokio::net::TcpListener,
    options: &LoginOptions,
) -> Result<Option<String>, Failure> {
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
    let resource = query_param("resource");
    redact::register(&state);
    present_url(server, &auth_url, options.open_browser)?;

    let callback = tokio::time::timeout(options.timeout, wait_for_callback(listener, &state))
        .await
        .map_err(|_| {
            Failure::new(
                Kind::Auth,
                format!(
                    "no authorization callback for MCP server `{}` within {}",
                    server.name,
                    crate::human::duration(options.timeout)
                ),
            )
            .hint("finish the login in the browser, or raise the limit with --timeout SECS")
        })??;
    redact::register(&callback.code);
    session
        .handle_callback_with_issuer(&callback.code, &state, callback.issuer.as_deref())
        .await
        .map_err(|e| auth_failure(server, format!("the token exchange failed: {e}")))?;
    Ok(resource)
}

fn port_of(uri: &str) -> Option<u16> {
    url::Url::parse(uri).ok()?.port()
}

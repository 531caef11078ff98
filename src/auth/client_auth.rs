//! How token requests authenticate the client (RFC 6749 §2.3, RFC 7591 `token_endpoint_auth_method`):
//! the method the registration returned, else the configured one, else what the server's metadata
//! implies.
//!
//! rmcp (3.11) picks the method from the server's `token_endpoint_auth_methods_supported` alone,
//! HTTP Basic unless the server lists only `client_secret_post`, whatever the client registered.
//! A server that lists both and enforces the registered method (the Python MCP SDK does) then
//! rejects the token request. rmcp offers no setting for it, so the manager is given a view of
//! the metadata that names exactly the chosen method; the stored metadata stays as discovered.

use rmcp::transport::auth::{AuthorizationManager, AuthorizationMetadata, OAuthClientConfig};

use super::auth_failure;
use super::store::Registration;
use crate::config::ServerConfig;
use crate::exit::Failure;

/// A token endpoint client authentication method we can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `client_id` and `client_secret` in the form body.
    SecretPost,
    /// `client_id:client_secret` in an HTTP Basic header.
    SecretBasic,
    /// A public client: `client_id` in the body, no secret.
    None,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::SecretPost => "client_secret_post",
            Method::SecretBasic => "client_secret_basic",
            Method::None => "none",
        }
    }

    pub fn parse(name: &str) -> Option<Method> {
        match name {
            "client_secret_post" => Some(Method::SecretPost),
            "client_secret_basic" => Some(Method::SecretBasic),
            "none" => Some(Method::None),
            _ => None,
        }
    }
}

/// The server's `token_endpoint_auth_methods_supported`, empty when it says nothing.
pub fn supported(metadata: &AuthorizationMetadata) -> Vec<String> {
    metadata
        .additional_fields
        .get("token_endpoint_auth_methods_supported")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The method for a client: recorded at registration > `oauth.token_endpoint_auth_method` >
/// `none` without a secret > Basic when the server supports it or says nothing (the RFC 6749
/// default) > `client_secret_post`.
pub fn method_for(
    server: &ServerConfig,
    client: &Registration,
    metadata: &AuthorizationMetadata,
) -> Result<Method, Failure> {
    if let Some(recorded) = client.token_endpoint_auth_method.as_deref()
        && let Some(method) = Method::parse(recorded)
    {
        return Ok(method);
    }
    let configured = server
        .oauth
        .as_ref()
        .and_then(|o| o.token_endpoint_auth_method.as_deref());
    if let Some(name) = configured {
        return Method::parse(name).ok_or_else(|| {
            Failure::config(format!(
                "server `{}`: oauth.token_endpoint_auth_method `{name}` is not one of client_secret_post, client_secret_basic, none",
                server.name
            ))
        });
    }
    if client.client_secret.is_none() {
        return Ok(Method::None);
    }
    Ok(secret_default(metadata))
}

/// For a client with a secret and no recorded or configured method: HTTP Basic when the
/// server supports it or says nothing (the RFC 6749 default), else `client_secret_post`.
pub fn secret_default(metadata: &AuthorizationMetadata) -> Method {
    let supported = supported(metadata);
    if supported.is_empty() || supported.iter().any(|m| m == "client_secret_basic") {
        Method::SecretBasic
    } else {
        Method::SecretPost
    }
}

/// The metadata rmcp must see so that its token requests use `method`.
pub fn metadata_for(metadata: &AuthorizationMetadata, method: Method) -> AuthorizationMetadata {
    let mut view = metadata.clone();
    view.additional_fields.insert(
        "token_endpoint_auth_methods_supported".to_string(),
        serde_json::json!([method.name()]),
    );
    view
}

/// Configure `manager` for `client` so that code exchanges and refreshes authenticate with
/// the client's method. The manager's metadata must be set.
pub fn configure(
    server: &ServerConfig,
    manager: &mut AuthorizationManager,
    metadata: &AuthorizationMetadata,
    client: &Registration,
    scopes: Vec<String>,
) -> Result<(), Failure> {
    let method = method_for(server, client, metadata)?;
    manager.set_metadata(metadata_for(metadata, method));
    let mut config = OAuthClientConfig::new(
        client.client_id.clone(),
        client
            .redirect_uri
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1/callback".to_string()),
    )
    .with_scopes(scopes);
    if method != Method::None
        && let Some(secret) = &client.client_secret
    {
        config = config.with_client_secret(secret.clone());
    }
    manager
        .configure_client(config)
        .map_err(|e| auth_failure(server, e))
}

/// Authenticate one of our own requests to the server's endpoints (the device flow's) as
/// `client` with `method`: form fields for `client_secret_post` and `none`, the header for
/// `client_secret_basic` (id and secret form-urlencoded first, RFC 6749 §2.3.1).
pub fn authenticate(
    request: reqwest::RequestBuilder,
    form: &mut Vec<(String, String)>,
    client: &Registration,
    method: Method,
) -> reqwest::RequestBuilder {
    let secret = client.client_secret.clone().unwrap_or_default();
    match method {
        Method::SecretBasic => {
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            use base64::Engine;
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                encode(&client.client_id),
                encode(&secret)
            ));
            request.header("Authorization", format!("Basic {credentials}"))
        }
        Method::SecretPost => {
            form.push(("client_id".to_string(), client.client_id.clone()));
            form.push(("client_secret".to_string(), secret));
            request
        }
        Method::None => {
            form.push(("client_id".to_string(), client.client_id.clone()));
            request
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use std::sync::{Arc, Mutex};

    use pretty_assertions::assert_eq;
    use rmcp::transport::auth::{
        AuthorizationRequest, AuthorizationSession, CredentialStore, InMemoryCredentialStore,
        OAuthHttpClient, OAuthHttpClientFuture, OAuthHttpRequest, StoredCredentials,
    };

    use super::*;
    use crate::auth::store::ClientSource;
    use crate::config::{AuthType, OAuthConfig};

    pub const URL: &str = "http://127.0.0.1:9/mcp";

    /// A request as sent: its Authorization header and its form body, sorted.
    pub type Sent = (Option<String>, Vec<(String, String)>);

    /// Records every request rmcp sends and answers each with a token response.
    #[derive(Default, Clone)]
    pub struct Recorder(pub Arc<Mutex<Vec<Sent>>>);

    impl OAuthHttpClient for Recorder {
        fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
            let request = request.request;
            let header = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut form: Vec<(String, String)> = url::form_urlencoded::parse(request.body())
                .into_owned()
                .collect();
            form.sort();
            self.0.lock().unwrap().push((header, form));
            Box::pin(async {
                Ok(oauth2::http::Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(
                        br#"{"access_token":"AT2","token_type":"Bearer","expires_in":60,"refresh_token":"RT2"}"#
                            .to_vec(),
                    )
                    .unwrap())
            })
        }
    }

    pub fn server(configured: Option<&str>) -> ServerConfig {
        ServerConfig {
            oauth: Some(OAuthConfig {
                token_endpoint_auth_method: configured.map(str::to_string),
                ..OAuthConfig::default()
            }),
            ..ServerConfig::http_for_tests("s", URL, AuthType::Oauth)
        }
    }

    pub fn metadata(supported: &[&str]) -> AuthorizationMetadata {
        let mut value = serde_json::json!({
            "authorization_endpoint": "http://127.0.0.1:9/authorize",
            "token_endpoint": "http://127.0.0.1:9/token",
            "issuer": "http://127.0.0.1:9",
            "code_challenge_methods_supported": ["S256"],
        });
        if !supported.is_empty() {
            value["token_endpoint_auth_methods_supported"] = serde_json::json!(supported);
        }
        serde_json::from_value(value).unwrap()
    }

    fn client(secret: Option<&str>, recorded: Option<&str>) -> Registration {
        Registration {
            client_id: "cid".to_string(),
            client_secret: secret.map(str::to_string),
            redirect_uri: Some("http://127.0.0.1:5/callback".to_string()),
            source: ClientSource::Dynamic,
            token_endpoint_auth_method: recorded.map(str::to_string),
        }
    }

    pub fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut form: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        form.sort();
        form
    }

    /// The refresh request rmcp sends for `client` once configured by `configure`.
    async fn refresh_request(
        client: &Registration,
        metadata: &AuthorizationMetadata,
    ) -> (Option<String>, Vec<(String, String)>) {
        let recorder = Recorder::default();
        let mut manager =
            AuthorizationManager::new_with_oauth_http_client(URL, Arc::new(recorder.clone()))
                .await
                .unwrap();
        let credentials = InMemoryCredentialStore::new();
        let token = serde_json::from_value(serde_json::json!({
            "access_token": "AT", "token_type": "Bearer", "refresh_token": "RT"
        }))
        .unwrap();
        credentials
            .save(StoredCredentials::new(
                "cid".to_string(),
                Some(token),
                vec![],
                None,
            ))
            .await
            .unwrap();
        manager.set_credential_store(credentials);
        configure(&server(None), &mut manager, metadata, client, vec![]).unwrap();
        manager.refresh_token().await.unwrap();
        let mut requests = recorder.0.lock().unwrap().clone();
        assert_eq!(requests.len(), 1);
        requests.remove(0)
    }

    #[test]
    fn the_recorded_method_wins_then_the_config_then_the_metadata() {
        let both = metadata(&["client_secret_post", "client_secret_basic"]);
        let secret = client(Some("sec"), None);
        let method = |server: &ServerConfig, client: &Registration, m: &AuthorizationMetadata| {
            method_for(server, client, m).unwrap()
        };
        assert_eq!(
            method(
                &server(Some("client_secret_basic")),
                &client(Some("sec"), Some("client_secret_post")),
                &both
            ),
            Method::SecretPost
        );
        assert_eq!(
            method(&server(Some("client_secret_post")), &secret, &both),
            Method::SecretPost
        );
        assert_eq!(method(&server(None), &secret, &both), Method::SecretBasic);
        assert_eq!(
            method(&server(None), &secret, &metadata(&[])),
            Method::SecretBasic
        );
        assert_eq!(
            method(
                &server(None),
                &secret,
                &metadata(&["client_secret_post", "none"])
            ),
            Method::SecretPost
        );
        assert_eq!(
            method(&server(None), &client(None, None), &both),
            Method::None
        );
        let wrong = method_for(&server(Some("tls_client_auth")), &secret, &both).unwrap_err();
        assert_eq!(wrong.kind, crate::exit::Kind::Config);
        assert!(
            wrong
                .message
                .contains("oauth.token_endpoint_auth_method `tls_client_auth`")
        );
    }

    #[tokio::test]
    async fn client_secret_post_puts_id_and_secret_in_the_body_even_when_basic_is_offered() {
        let both = metadata(&["client_secret_post", "client_secret_basic"]);
        let (header, body) =
            refresh_request(&client(Some("s3cr:t"), Some("client_secret_post")), &both).await;
        assert_eq!(header, None);
        assert_eq!(
            body,
            form(&[
                ("client_id", "cid"),
                ("client_secret", "s3cr:t"),
                ("grant_type", "refresh_token"),
                ("refresh_token", "RT"),
                ("resource", URL),
            ])
        );
    }

    #[tokio::test]
    async fn client_secret_basic_uses_the_header_even_when_only_post_is_offered() {
        let (header, body) = refresh_request(
            &client(Some("s3cr:t"), Some("client_secret_basic")),
            &metadata(&["client_secret_post"]),
        )
        .await;
        // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
        use base64::Engine;
        let expected = base64::engine::general_purpose::STANDARD.encode("cid:s3cr%3At");
        assert_eq!(header, Some(format!("Basic {expected}")));
        assert_eq!(
            body,
            form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "RT"),
                ("resource", URL),
            ])
        );
    }

    #[tokio::test]
    async fn none_sends_the_client_id_in_the_body_and_never_a_secret() {
        let both = metadata(&["client_secret_basic", "none"]);
        let (header, body) = refresh_request(&client(Some("stale"), Some("none")), &both).await;
        assert_eq!(header, None);
        assert_eq!(
            body,
            form(&[
                ("client_id", "cid"),
                ("grant_type", "refresh_token"),
                ("refresh_token", "RT"),
                ("resource", URL),
            ])
        );
    }

    #[test]
    fn our_own_requests_authenticate_like_rmcps() {
        let sent = |method: Method| {
            let mut form = vec![];
            let request = authenticate(
                reqwest::Client::new().post("http://127.0.0.1:9/device"),
                &mut form,
                &client(Some("s3cr:t"), None),
                method,
            )
            .build()
            .unwrap();
            let header = request
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string());
            (header, form)
        };
        assert_eq!(
            sent(Method::SecretPost),
            (
                None,
                form(&[("client_id", "cid"), ("client_secret", "s3cr:t")])
            )
        );
        assert_eq!(sent(Method::None), (None, form(&[("client_id", "cid")])));
        use base64::Engine;
        let expected = base64::engine::general_purpose::STANDARD.encode("cid:s3cr%3At");
        assert_eq!(
            sent(Method::SecretBasic),
            (Some(format!("Basic {expected}")), vec![])
        );
    }

    #[tokio::test]
    async fn the_code_exchange_authenticates_like_the_refresh() {
        let recorder = Recorder::default();
        let mut manager =
            AuthorizationManager::new_with_oauth_http_client(URL, Arc::new(recorder.clone()))
                .await
                .unwrap();
        let both = metadata(&["client_secret_post", "client_secret_basic"]);
        manager.set_metadata(metadata_for(&both, Method::SecretPost));
        let request = AuthorizationRequest::new("http://127.0.0.1:5/callback")
            .with_scopes(["mcp:tools"])
            .with_preregistered_client("cid")
            .with_client_secret("sec");
        let session = AuthorizationSession::new(manager, request)
            .await
            .map_err(|(_, e)| e)
            .unwrap();
        let state = url::Url::parse(session.get_authorization_url())
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        session.handle_callback("CODE", &state).await.unwrap();
        let requests = recorder.0.lock().unwrap().clone();
        assert_eq!(requests.len(), 1);
        let (header, body) = &requests[0];
        assert_eq!(header, &None);
        let names: Vec<&str> = body.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "client_id",
                "client_secret",
                "code",
                "code_verifier",
                "grant_type",
                "redirect_uri",
                "resource"
            ]
        );
        assert_eq!(body[1], ("client_secret".to_string(), "sec".to_string()));
    }
}

//! The one HTTP client for every OAuth request whose URL a server named (protected resource and
//! authorization server metadata, registration, token, device, revocation endpoints): it
//! connects only to the addresses the MCP server's own URL allows, checked on the addresses a
//! name resolves to at connect time, on every request and every redirect hop.
//!
//! The rule is rmcp's (its default OAuth client, `AuthorizationManager::new`), so that the
//! default path and the side paths (a `ca_file`, a proxy, DPoP, the headless grants, our own
//! registration and revocation) cannot drift apart again:
//! - a public address is always allowed;
//! - a loopback address only when the configured URL names one (`localhost`, `*.localhost`, a
//!   loopback literal), a private one (RFC 1918, CGNAT, `fc00::/7`) only when the configured URL
//!   is a private literal or `oauth.allow_private_addresses` is set (rmcp's
//!   `new_allowing_private_addresses`); the answers a name gets never widen this (the server
//!   may control them);
//! - link-local (cloud instance metadata), unspecified, broadcast, multicast and reserved
//!   addresses never, except the configured URL's own literal;
//! - IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4) count as that address.
//!
//! A redirect is followed only within its origin (307/308, which keep the body); another origin
//! is refused with that reason. Requests that carry secrets (every method but GET) never go in
//! clear to a host that is not loopback. Behind an HTTP proxy, the proxy resolves names: then only
//! IP literals can be checked here (the proxy's own rules must keep internal names out), and the
//! proxy's host itself is not filtered (the user chose it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rmcp::transport::auth::{OAuthHttpClient, OAuthHttpClientFuture, OAuthHttpRequest};
use url::{Host, Url};

use crate::config::ServerConfig;
use crate::exit::Failure;

/// Cap on an OAuth answer (metadata, registration, tokens): they are small documents.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Same-origin redirects followed at most.
const MAX_REDIRECTS: usize = 10;
/// Every OAuth request gives up after this long, like rmcp's own client.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What an address is, for the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Public,
    Loopback,
    Private,
    /// Link-local, unspecified, broadcast, multicast, benchmarking and other reserved ranges.
    Reserved,
}

/// The class of `ip` (IPv6 forms embedding an IPv4 address take that address's class).
pub fn class(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => class_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => class_v4(v4),
            None => class_v6(v6),
        },
    }
}

fn class_v4(ip: Ipv4Addr) -> Class {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Class::Private
    } else if a == 0
        || a >= 224
        || ip.is_link_local()
        || ip.is_broadcast()
        || (a == 198 && (b == 18 || b == 19))
    {
        Class::Reserved
    } else {
        Class::Public
    }
}

fn class_v6(ip: Ipv6Addr) -> Class {
    let first = ip.segments()[0];
    let second = ip.segments()[1];
    if ip.is_loopback() {
        Class::Loopback
    } else if first & 0xfe00 == 0xfc00 {
        Class::Private
    } else if ip.is_unspecified()
        || ip.is_multicast()
        || first & 0xffc0 == 0xfe80
        || first & 0xffc0 == 0xfec0
        || (first == 0x2001 && second == 0)
        || (first == 0x64 && second == 0xff9b && ip.segments()[2] == 1)
    {
        Class::Reserved
    } else {
        Class::Public
    }
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 (`64:ff9b::/96`) or 6to4
/// (`2002::/16`) address: a connection to it reaches that IPv4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low),
        [0, 0, 0, 0, 0, 0, ..] if !ip.is_loopback() && !ip.is_unspecified() => Some(low),
        [0x2002, high, low16, ..] => {
            Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low16)))
        }
        _ => None,
    }
}

/// Whether `host` is loopback by its spelling: `localhost`, `*.localhost` or a loopback literal.
pub fn loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => class(IpAddr::V4(*ip)) == Class::Loopback,
        Host::Ipv6(ip) => class(IpAddr::V6(*ip)) == Class::Loopback,
    }
}

fn literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// Which addresses the requests of one MCP server may reach (see the module docs).
#[derive(Debug, Clone)]
pub struct Rule {
    /// The configured URL's own IP literal, always allowed.
    own: Option<IpAddr>,
    /// Loopback and/or private, when the configured URL names such an address.
    local: Vec<Class>,
    /// Proxy hosts from the environment: they resolve unfiltered.
    proxies: Vec<String>,
}

impl Rule {
    /// The rule for a server configured at `base`; `private` also allows private addresses
    /// (`oauth.allow_private_addresses`: an authorization server on the corporate network).
    pub fn for_base(base: &Url, private: bool) -> Rule {
        let own = literal(base);
        let mut local = match (base.host(), own.map(class)) {
            (_, Some(class @ (Class::Loopback | Class::Private))) => vec![class],
            (Some(host), None) if loopback_host(&host) => vec![Class::Loopback],
            _ => Vec::new(),
        };
        if private && !local.contains(&Class::Private) {
            local.push(Class::Private);
        }
        Rule {
            own,
            local,
            proxies: proxy_hosts(),
        }
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.own == Some(ip) {
            return true;
        }
        match class(ip) {
            Class::Public => true,
            local @ (Class::Loopback | Class::Private) => self.local.contains(&local),
            Class::Reserved => false,
        }
    }

    /// The check of a URL before any connection: the scheme, cleartext secrets, and an IP
    /// literal (reqwest connects to one without asking the resolver).
    pub fn check(&self, url: &Url, sends_secrets: bool) -> Result<(), Refused> {
        let Some(host) = url.host() else {
            return Err(Refused::NotHttp(url.to_string()));
        };
        if let Some(ip) = literal(url)
            && !self.allows(ip)
        {
            return Err(Refused::Address {
                host: host.to_string(),
                addresses: vec![ip],
            });
        }
        match url.scheme() {
            "https" => Ok(()),
            "http" if !sends_secrets || loopback_host(&host) => Ok(()),
            "http" => Err(Refused::Cleartext(origin(url))),
            _ => Err(Refused::NotHttp(url.to_string())),
        }
    }
}

/// The hosts of the proxies reqwest would use (it reads the same variables).
fn proxy_hosts() -> Vec<String> {
    [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .filter_map(|name| std::env::var(name).ok())
    .filter_map(|proxy| {
        let proxy = if proxy.contains("://") {
            proxy
        } else {
            format!("http://{proxy}")
        };
        Url::parse(&proxy)
            .ok()?
            .host_str()
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
    })
    .collect()
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Why a request was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The host is (or resolves only to) addresses the rule does not allow.
    Address {
        host: String,
        addresses: Vec<IpAddr>,
    },
    /// A redirect to another origin (our headers and body must not go there).
    OtherOrigin(String),
    /// Secrets in clear to a host that is not loopback.
    Cleartext(String),
    NotHttp(String),
    TooManyRedirects,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Address { host, addresses } => {
                let list: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
                write!(
                    f,
                    "refused to connect to `{host}` ({}): not an address the MCP server's URL allows OAuth requests to reach (loopback, private or link-local)",
                    list.join(", ")
                )
            }
            Refused::OtherOrigin(to) => write!(f, "redirect to another origin refused ({to})"),
            Refused::Cleartext(to) => write!(
                f,
                "refused to send credentials in clear to {to}: OAuth endpoints must use https (plain http only on loopback)"
            ),
            Refused::NotHttp(url) => write!(f, "refused a URL that is not http(s): {url}"),
            Refused::TooManyRedirects => write!(f, "more than {MAX_REDIRECTS} redirects"),
        }
    }
}

impl std::error::Error for Refused {}

/// OAuth 2.1 (§1.5): the endpoints that see credentials, codes and tokens use TLS; plain
/// http only on a loopback host. Checked on the metadata before anything is sent, so that
/// nothing (not even a registration) goes out when one of them is in clear.
pub fn require_tls(metadata: &rmcp::transport::auth::AuthorizationMetadata) -> Result<(), String> {
    let extra = |name: &str| {
        metadata
            .additional_fields
            .get(name)
            .and_then(|v| v.as_str())
    };
    let endpoints = [
        (
            "authorization_endpoint",
            Some(metadata.authorization_endpoint.as_str()),
        ),
        ("token_endpoint", Some(metadata.token_endpoint.as_str())),
        (
            "registration_endpoint",
            metadata.registration_endpoint.as_deref(),
        ),
        (
            "device_authorization_endpoint",
            extra("device_authorization_endpoint"),
        ),
        ("revocation_endpoint", extra("revocation_endpoint")),
    ];
    for (name, endpoint) in endpoints {
        let Some(url) = endpoint.and_then(|e| Url::parse(e).ok()) else {
            continue;
        };
        let local = url.host().is_some_and(|host| loopback_host(&host));
        if url.scheme() == "http" && !local {
            return Err(format!(
                "the {name} {} is plain http: refusing to send credentials, codes or tokens in clear (OAuth 2.1 requires https except on loopback)",
                origin(&url)
            ));
        }
    }
    Ok(())
}

/// The resolver of the guarded client: asks the system, keeps the allowed addresses, and fails
/// the connection when none is left.
struct Resolver {
    rule: Arc<Rule>,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rule = self.rule.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let normalized = host.trim_end_matches('.').to_ascii_lowercase();
            if rule.proxies.contains(&normalized) {
                return Ok(Box::new(found.into_iter()) as Addrs);
            }
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                found.into_iter().partition(|a| rule.allows(a.ip()));
            if allowed.is_empty() {
                let refused = Refused::Address {
                    host,
                    addresses: refused.iter().map(SocketAddr::ip).collect(),
                };
                tracing::warn!("{refused}");
                return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client for OAuth requests of one MCP server (see the module docs). It hands out
/// only request builders whose URL it checked; there is no way to its inner client.
#[derive(Clone)]
pub struct Guarded {
    http: reqwest::Client,
    rule: Arc<Rule>,
    /// The URL the rule comes from, which `take_failure` is asked with.
    base: Arc<str>,
}

/// The last failure of an OAuth request rmcp sent through a guarded client, per base URL:
/// rmcp reports a failed token request as "Request failed" and drops the cause, which
/// `auth_failure` then adds back from here.
static FAILURES: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

fn record_failure(base: &str, why: &str) {
    let mut failures = FAILURES.lock().unwrap_or_else(|e| e.into_inner());
    failures.retain(|(b, _)| b != base);
    failures.push((base.to_string(), why.to_string()));
}

/// The cause of the last failed OAuth request for the server at `base`, once.
pub fn take_failure(base: &str) -> Option<String> {
    let mut failures = FAILURES.lock().unwrap_or_else(|e| e.into_inner());
    let index = failures.iter().position(|(b, _)| b == base)?;
    Some(failures.remove(index).1)
}

impl Guarded {
    /// For `server`'s requests, with the rule of `base` (its configured URL, or for an identity
    /// provider the configured issuer); trusts the server's `ca_file`, honours the proxy
    /// variables.
    pub fn new(server: &ServerConfig, base: &str) -> Result<Guarded, Failure> {
        let parsed = Url::parse(base)
            .map_err(|e| Failure::config(format!("server `{}`: bad URL: {e}", server.name)))?;
        let private = server
            .oauth
            .as_ref()
            .is_some_and(|o| o.allow_private_addresses);
        let rule = Arc::new(Rule::for_base(&parsed, private));
        let http = crate::mcp::client_builder_trusting(server.ca_file.as_deref())?
            .redirect(redirect_policy(rule.clone()))
            .dns_resolver(Arc::new(Resolver { rule: rule.clone() }))
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| {
                Failure::new(
                    crate::exit::Kind::Internal,
                    format!("cannot build the HTTP client: {e}"),
                )
            })?;
        Ok(Guarded {
            http,
            rule,
            base: Arc::from(base),
        })
    }

    /// A request to `url`, checked first (see `Rule::check`).
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Refused> {
        let parsed = Url::parse(url).map_err(|_| Refused::NotHttp(url.to_string()))?;
        self.rule.check(&parsed, method != reqwest::Method::GET)?;
        Ok(self.http.request(method, parsed))
    }

    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, Refused> {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, Refused> {
        self.request(reqwest::Method::POST, url)
    }

    /// Send an OAuth request rmcp built and read its answer (capped).
    async fn exchange(
        &self,
        request: OAuthHttpRequest,
    ) -> Result<oauth2::http::Response<Vec<u8>>, String> {
        let OAuthHttpRequest {
            request, timeout, ..
        } = request;
        let (parts, body) = request.into_parts();
        let mut builder = self
            .request(parts.method.clone(), &parts.uri.to_string())
            .map_err(|refused| refused.to_string())?
            .headers(parts.headers)
            .body(body);
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        let response = builder.send().await.map_err(|e| explain(&e))?;
        read_capped(response).await
    }
}

/// A response read whole, refusing one over the cap.
pub async fn read_capped(
    mut response: reqwest::Response,
) -> Result<oauth2::http::Response<Vec<u8>>, String> {
    let url = response.url().clone();
    let mut answer = oauth2::http::Response::builder()
        .status(response.status())
        .version(response.version());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| explain(&e))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!(
                "the answer of {} exceeds {MAX_BODY_BYTES} bytes",
                origin(&url)
            ));
        }
        body.extend_from_slice(&chunk);
    }
    answer.body(body).map_err(|e| e.to_string())
}

impl OAuthHttpClient for Guarded {
    fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        Box::pin(async move {
            let answer = self.exchange(request).await;
            if let Err(why) = &answer {
                record_failure(&self.base, why);
            }
            Ok(answer?)
        })
    }
}

/// Follows 307/308 within the origin (they keep the method and body); refuses another origin
/// by name, so that the error says why instead of handing the 3xx to the OAuth parser.
fn redirect_policy(rule: Arc<Rule>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same_origin {
            let to = origin(attempt.url());
            return attempt.error(Refused::OtherOrigin(to));
        }
        if let Err(refused) = rule.check(attempt.url(), false) {
            return attempt.error(refused);
        }
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        if !keeps_body {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(Refused::TooManyRedirects)
        } else {
            attempt.follow()
        }
    })
}

/// What went wrong with a guarded request: our refusal when there is one (reqwest wraps it in
/// "error sending request"), else the error and its causes.
pub fn explain(error: &reqwest::Error) -> String {
    chain(error)
}

/// An error and its causes, joined with ": " (each once); when one is our refusal, it ends
/// the text and the transport layers wrapped around it are left out.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut source = Some(error);
    let mut texts: Vec<String> = Vec::new();
    let mut transport_from = None;
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<Refused>() {
            texts.truncate(transport_from.unwrap_or(texts.len()));
            texts.push(refused.to_string());
            break;
        }
        if transport_from.is_none() && current.is::<reqwest::Error>() {
            transport_from = Some(texts.len());
        }
        let text = current.to_string();
        if !texts.iter().any(|seen| seen.contains(&text)) {
            texts.push(text);
        }
        source = current.source();
    }
    crate::redact::text(&texts.join(": "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

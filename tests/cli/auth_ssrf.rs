//! Issue 21, class 3: every OAuth request whose URL a server named goes through one guarded
//! client, on the default path and on the side paths that used to swap in a plain client (a
//! `ca_file`, a server asking for DPoP): a loopback, 127.0.0.2 or link-local address is refused
//! before any connection when the MCP server's own URL is not loopback. The MCP server is
//! configured as `http://0.0.0.0:PORT`, which reaches the fake on 127.0.0.1 but is not a loopback
//! URL by the rule; a second fake (the "internal service") counts what reaches it.

use pretty_assertions::assert_eq;

use crate::support::*;

/// The ways `auth login` makes its OAuth requests.
#[derive(Debug, Clone, Copy)]
enum Path {
    Default,
    CaFile,
    Dpop,
}

const PATHS: [Path; 3] = [Path::Default, Path::CaFile, Path::Dpop];

/// The tail of a refusal, after the host and its addresses.
const NOT_ALLOWED: &str = "): not an address the MCP server's URL allows OAuth requests to reach (loopback, private or link-local)";

/// `auth login s` against the hostile fake started with `options`, configured at 0.0.0.0 and
/// taking `path`; returns the output and what the fake logged.
fn login(path: Path, options: &[&str]) -> (std::process::Output, Vec<String>) {
    let env = TestEnv::new();
    let log = env.path("mcp.log");
    let mut options = options.to_vec();
    if let Path::Dpop = path {
        options.push("challenge=dpop");
    }
    let mcp = hostile_oauth(&log, &options);
    let mut config = format!(
        "servers:\n  - name: s\n    url: http://0.0.0.0:{}/mcp\n    auth_type: oauth\n",
        mcp.port
    );
    if let Path::CaFile = path {
        let (ca, _, _) = private_ca(env.dir.path());
        config.push_str(&format!("    ca_file: {}\n", ca.display()));
    }
    env.write("mcp_servers.yaml", &config);
    let output = env
        .cmd()
        .env("BROWSER", "true")
        .args(["auth", "login", "s", "--timeout", "5"])
        .output()
        .unwrap();
    (output, logged_requests(&log))
}

/// The one stderr line of a refused login, split around the refused addresses.
fn refusal(output: &std::process::Output) -> (String, String) {
    let stderr = stderr_of(output);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("mcpchat: "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    let (head, rest) = line.split_once(" (").unwrap_or((line, ""));
    (head.to_string(), rest.to_string())
}

/// Endpoints the browser would use, never contacted: registration fails first. The metadata
/// is found at the server's own origin (rmcp's check of host names refuses 0.0.0.0 as an
/// authorization server named by resource metadata).
const ELSEWHERE: [&str; 3] = [
    "authorize=https://mcpchat.invalid/authorize",
    "token=https://mcpchat.invalid/token",
    "prm=none",
];

#[test]
fn a_registration_endpoint_whose_name_resolves_to_loopback_is_never_reached_on_any_path() {
    for path in PATHS {
        let internal_log = tempfile::NamedTempFile::new().unwrap().into_temp_path();
        let internal = hostile_oauth(&internal_log, &[]);
        let register = format!("register=http://localhost:{}/register", internal.port);
        let (output, seen) = login(path, &[&register, ELSEWHERE[0], ELSEWHERE[1], ELSEWHERE[2]]);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{path:?}: {}",
            stderr_of(&output)
        );
        let (head, rest) = refusal(&output);
        assert_eq!(
            head,
            "mcpchat: error: OAuth for MCP server `s`: dynamic client registration failed: refused to connect to `localhost`",
            "{path:?}"
        );
        assert!(
            rest.contains("127.0.0.1") && rest.ends_with(NOT_ALLOWED),
            "{path:?}: {rest}"
        );
        assert_eq!(
            logged_requests(&internal_log),
            Vec::<String>::new(),
            "{path:?}"
        );
        // Discovery itself went through: the refusal is the registration's.
        assert!(
            seen.iter()
                .any(|l| l.starts_with("GET /.well-known/oauth-authorization-server")),
            "{path:?}: {seen:?}"
        );
    }
}

#[test]
fn registration_at_127_0_0_2_or_a_link_local_address_is_refused_before_connecting_on_any_path() {
    for (endpoint, host) in [
        ("http://127.0.0.2:9/register", "127.0.0.2"),
        ("https://169.254.169.254/register", "169.254.169.254"),
    ] {
        for path in PATHS {
            let register = format!("register={endpoint}");
            let (output, _) = login(path, &[&register, ELSEWHERE[0], ELSEWHERE[1], ELSEWHERE[2]]);
            assert_eq!(
                output.status.code(),
                Some(3),
                "{path:?}: {}",
                stderr_of(&output)
            );
            assert_eq!(
                refusal(&output),
                (
                    format!(
                        "mcpchat: error: OAuth for MCP server `s`: dynamic client registration failed: refused to connect to `{host}`"
                    ),
                    format!("{host}{NOT_ALLOWED}")
                ),
                "{path:?}"
            );
        }
    }
}

/// A name that is not `localhost` but resolves to loopback only: this machine's host name
/// usually is one (/etc/hosts), else Debian's `ip6-localhost`. rmcp's own check of host names
/// lets it through; only the addresses it resolves to can refuse it.
fn loopback_hostname() -> Option<String> {
    use std::net::ToSocketAddrs;
    let own = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    [own.trim(), "ip6-localhost", "ip6-loopback"]
        .into_iter()
        .filter(|name| !name.is_empty())
        .find(|name| {
            let addresses: Vec<_> = (*name, 0)
                .to_socket_addrs()
                .map(|a| a.collect())
                .unwrap_or_default();
            !addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback())
        })
        .map(str::to_string)
}

#[test]
fn authorization_server_metadata_at_a_name_resolving_to_loopback_is_never_fetched_on_any_path() {
    // No silent skip: a machine without such a name cannot run this test, and says so.
    let name = loopback_hostname().expect(
        "this test needs a host name other than localhost that resolves to loopback only \
         (this machine's name in /etc/hosts, or ip6-localhost)",
    );
    for path in PATHS {
        let internal_log = tempfile::NamedTempFile::new().unwrap().into_temp_path();
        let internal = hostile_oauth(&internal_log, &[]);
        let issuer = format!("as=http://{name}:{}", internal.port);
        let (output, _) = login(path, &[&issuer]);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{path:?}: {}",
            stderr_of(&output)
        );
        let stderr = stderr_of(&output);
        assert!(
            stderr.contains(&format!("refused to connect to `{name}` (127.")),
            "{path:?}: {stderr}"
        );
        assert_eq!(
            logged_requests(&internal_log),
            Vec::<String>::new(),
            "{path:?}"
        );
    }
}

#[test]
fn a_loopback_mcp_server_still_logs_in_with_its_loopback_authorization_server() {
    // The rule allows loopback to a loopback URL: the OAuth peers of the test suite rely on it.
    let env = TestEnv::new();
    let log = env.path("mcp.log");
    let mcp = hostile_oauth(&log, &[]);
    logged_in_with_curl(&env, &mcp.url);
    let seen = logged_requests(&log);
    for expected in ["POST /register", "GET /authorize", "POST /token"] {
        assert!(
            seen.iter().any(|l| l.starts_with(expected)),
            "{expected}: {seen:?}"
        );
    }
}

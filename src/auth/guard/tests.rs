//! Tests of the guarded client: the address rule, URL checks before connecting, the resolver.

use pretty_assertions::assert_eq;

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn rule(base: &str) -> Rule {
    Rule::for_base(&Url::parse(base).unwrap(), false)
}

#[test]
fn addresses_fall_into_the_classes_of_the_rule() {
    for (text, expected) in [
        ("93.184.216.34", Class::Public),
        ("127.0.0.2", Class::Loopback),
        ("::1", Class::Loopback),
        ("::ffff:127.0.0.1", Class::Loopback),
        ("2002:7f00:1::", Class::Loopback),
        ("10.1.2.3", Class::Private),
        ("172.16.0.1", Class::Private),
        ("192.168.1.1", Class::Private),
        ("100.64.0.1", Class::Private),
        ("fd00::1", Class::Private),
        ("64:ff9b::a00:9", Class::Private),
        ("169.254.169.254", Class::Reserved),
        ("fe80::1", Class::Reserved),
        ("0.0.0.0", Class::Reserved),
        ("::", Class::Reserved),
        ("255.255.255.255", Class::Reserved),
        ("224.0.0.1", Class::Reserved),
        ("198.18.0.1", Class::Reserved),
        ("2001::1", Class::Reserved),
        ("::ffff:169.254.169.254", Class::Reserved),
    ] {
        assert_eq!(class(ip(text)), expected, "{text}");
    }
}

#[test]
fn loopback_and_private_need_a_configured_url_of_their_kind() {
    let public = rule("https://mcp.example.com/mcp");
    assert!(public.allows(ip("93.184.216.34")));
    assert!(!public.allows(ip("127.0.0.1")));
    assert!(!public.allows(ip("10.0.0.9")));
    assert!(!public.allows(ip("169.254.169.254")));

    let loopback = rule("http://127.0.0.1:3000/mcp");
    assert!(loopback.allows(ip("127.0.0.2")));
    assert!(loopback.allows(ip("::1")));
    assert!(!loopback.allows(ip("10.0.0.9")));
    assert!(!loopback.allows(ip("169.254.169.254")));
    assert!(rule("http://localhost:3000/mcp").allows(ip("127.0.0.1")));

    let private = rule("https://10.0.0.4/mcp");
    assert!(private.allows(ip("10.0.0.9")));
    assert!(!private.allows(ip("127.0.0.1")));

    // allow_private_addresses: private, still neither loopback nor link-local.
    let corporate = Rule::for_base(&Url::parse("https://mcp.corp/mcp").unwrap(), true);
    assert!(corporate.allows(ip("10.0.0.9")));
    assert!(corporate.allows(ip("fd00::1")));
    assert!(!corporate.allows(ip("127.0.0.1")));
    assert!(!corporate.allows(ip("169.254.169.254")));

    // Its own literal, whatever its class; nothing else of that class.
    let unspecified = rule("http://0.0.0.0:3000/mcp");
    assert!(unspecified.allows(ip("0.0.0.0")));
    assert!(!unspecified.allows(ip("127.0.0.2")));
    assert!(!unspecified.allows(ip("169.254.169.254")));
}

#[test]
fn urls_are_checked_for_literals_and_cleartext_before_any_connection() {
    let public = rule("https://mcp.example.com/mcp");
    let check =
        |rule: &Rule, url: &str, secrets: bool| rule.check(&Url::parse(url).unwrap(), secrets);
    assert_eq!(
        check(&public, "http://169.254.169.254/latest/", false),
        Err(Refused::Address {
            host: "169.254.169.254".into(),
            addresses: vec![ip("169.254.169.254")]
        })
    );
    assert!(check(&public, "https://[::ffff:127.0.0.1]/token", true).is_err());
    assert_eq!(
        check(&public, "http://auth.example.com/token", true),
        Err(Refused::Cleartext("http://auth.example.com".into()))
    );
    assert_eq!(
        check(&public, "http://auth.example.com/.well-known/x", false),
        Ok(())
    );
    assert_eq!(
        check(&public, "https://auth.example.com/token", true),
        Ok(())
    );
    assert!(check(&public, "file:///etc/passwd", false).is_err());
    let loopback = rule("http://127.0.0.1:3000/mcp");
    assert_eq!(check(&loopback, "http://localhost:9/token", true), Ok(()));
    assert_eq!(check(&loopback, "http://127.0.0.2:9/token", true), Ok(()));
}

#[tokio::test]
async fn names_resolving_to_loopback_are_refused_unless_the_server_is_local() {
    let resolve = |base: &str| {
        let resolver = Resolver {
            rule: Arc::new(rule(base)),
        };
        resolver.resolve("localhost".parse().unwrap())
    };
    let refused = resolve("https://mcp.example.com/mcp").await.err().unwrap();
    let refused = refused.downcast_ref::<Refused>().unwrap();
    assert!(matches!(refused, Refused::Address { host, .. } if host == "localhost"));
    assert!(resolve("http://127.0.0.1:1/mcp").await.is_ok());
}

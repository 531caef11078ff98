//! `${VAR}` and `${VAR:-default}` in config values: expanded only for the servers a command
//! uses, with any variable whose name says "secret" registered for redaction.

use super::Config;
use crate::exit::Failure;
use crate::redact;

impl Config {
    /// Expand `${VAR}` and `${VAR:-default}`; an unset variable without default is an error
    /// pointing at where the file uses it.
    pub fn expand(&self, value: &str) -> Result<String, Failure> {
        let lookup = |name: &str| {
            let value = std::env::var(name).ok();
            // `${GITHUB_TOKEN}` is a secret wherever the file uses it.
            if let Some(value) = &value
                && redact::is_secret_name(name)
            {
                redact::register(value);
            }
            value
        };
        expand_vars(value, &lookup).map_err(|var| {
            self.error_at(
                &format!("${{{var}"),
                &format!("environment variable `{var}` is not set"),
            )
            .hint(format!(
                "export {var}=... or put it in ./.env; `${{{var}:-default}}` gives a default"
            ))
        })
    }
}

/// Expand `${VAR}` / `${VAR:-default}`; a default may itself hold references
/// (`${A:-${B:-x}}`), expanded only when it is used. Returns the name of the first unset
/// variable.
pub fn expand_vars(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = closing_brace(after) else {
            // Not a reference: keep the text as written.
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        match lookup(name).filter(|v| !(v.is_empty() && default.is_some())) {
            Some(v) => out.push_str(&v),
            None => match default {
                Some(d) => out.push_str(&expand_vars(d, lookup)?),
                None => return Err(name.to_string()),
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The `}` that closes a reference whose `${` came just before `text`, skipping nested ones.
fn closing_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 1;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            depth += 1;
            i += 2;
            continue;
        }
        if bytes[i] == b'}' {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_and_defaults() {
        assert_eq!(expand_vars("a${SET}b", &env).as_deref(), Ok("avalueb"));
        assert_eq!(expand_vars("${NOPE:-x y}", &env).as_deref(), Ok("x y"));
        assert_eq!(expand_vars("${EMPTY:-d}", &env).as_deref(), Ok("d"));
        assert_eq!(expand_vars("${NOPE}", &env), Err("NOPE".to_string()));
        assert_eq!(expand_vars("cost $5 ${", &env).as_deref(), Ok("cost $5 ${"));
    }

    #[test]
    fn expands_nested_defaults_only_when_used() {
        assert_eq!(expand_vars("${NOPE:-${SET}}", &env).as_deref(), Ok("value"));
        assert_eq!(
            expand_vars("<${NOPE:-${NADA:-x}}>", &env).as_deref(),
            Ok("<x>")
        );
        assert_eq!(expand_vars("${SET:-${NADA}}", &env).as_deref(), Ok("value"));
        assert_eq!(
            expand_vars("${NOPE:-${NADA}}", &env),
            Err("NADA".to_string())
        );
        assert_eq!(
            expand_vars("${NOPE:-a${SET}b}c", &env).as_deref(),
            Ok("avaluebc")
        );
    }
}

/// Property tests over what a config file's author (or a hostile environment) feeds us.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Literal text that holds no reference.
    fn literal() -> impl Strategy<Value = String> {
        "[^$]{0,12}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn references_expand_to_their_values_which_are_never_expanded_again(
            pieces in prop::collection::vec((literal(), "\\PC{0,12}"), 0..5),
            tail in literal(),
        ) {
            let mut template = String::new();
            let mut expected = String::new();
            let mut values = HashMap::new();
            for (i, (text, value)) in pieces.iter().enumerate() {
                template.push_str(&format!("{text}${{V{i}}}"));
                expected.push_str(text);
                expected.push_str(value);
                values.insert(format!("V{i}"), value.clone());
            }
            template.push_str(&tail);
            expected.push_str(&tail);
            let lookup = |name: &str| values.get(name).cloned();
            prop_assert_eq!(expand_vars(&template, &lookup), Ok(expected));
        }

        #[test]
        fn nested_defaults_fall_through_to_the_first_set_variable(
            depth in 1usize..6,
            set_at in 0usize..7,
            value in "[^$}]{1,10}",
            fallback in "[^$}]{0,10}",
        ) {
            // ${U0:-${U1:-...${U<depth-1>:-fallback}...}}, where only U<set_at> may be set.
            let mut template = fallback.clone();
            for level in (0..depth).rev() {
                template = format!("${{U{level}:-{template}}}");
            }
            let lookup = |name: &str| (name == format!("U{set_at}")).then(|| value.clone());
            let expected = if set_at < depth { value.clone() } else { fallback.clone() };
            prop_assert_eq!(expand_vars(&template, &lookup), Ok(expected));
        }

        #[test]
        fn any_text_expands_without_panicking(text in "[${}:a-zA-Z_-]{0,40}") {
            let lookup = |name: &str| name.len().is_multiple_of(2).then(|| name.to_lowercase());
            let _ = expand_vars(&text, &lookup);
        }
    }
}

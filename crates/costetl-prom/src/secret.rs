//! [`Secret`]: a string that never shows itself in `Debug`, `Display`,
//! logs or error messages.
//!
//! Passwords and tokens live in a `Secret` from the moment they are read
//! (config file, environment, token file) until they are copied into a
//! request header, which is then marked sensitive so reqwest's own `Debug`
//! hides it too. Only [`Secret::expose`] gives the text back, which makes
//! every use of a secret easy to find.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `text`, a URL that may not even parse, with the password of its
/// userinfo and the values of its query string replaced by `***`: all an
/// error message or a log may quote of a URL the user gave.
pub fn redact_url(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, text),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let url = match scheme {
        Some(scheme) => format!("{scheme}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    };
    let Some((head, query)) = url.split_once('?') else {
        return url;
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) => format!("{k}=***"),
            None => pair.to_owned(),
        })
        .collect();
    format!("{head}?{}", pairs.join("&"))
}

/// A password or token. Formats as `***` with `{}` and `{:?}`.
///
/// Serialization writes the plain text (a config written back to disk must
/// still work); everything else hides it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret text. Call it only to put the secret where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_passwords_and_query_values_even_when_they_do_not_parse() {
        for (url, want) in [
            ("http://alice:pw@h:9090/p", "http://alice:***@h:9090/p"),
            ("http://alice:p@w@[::1", "http://alice:***@[::1"),
            ("alice:pw@h:9090", "alice:***@h:9090"),
            ("https://h/?token=abc&x", "https://h/?token=***&x"),
            ("http://bob@h/", "http://bob@h/"),
            ("http://h:9090", "http://h:9090"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn never_formats_its_text() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
        assert!(!s.is_empty() && Secret::default().is_empty());
    }

    #[test]
    fn serializes_transparently() {
        let s: Secret = serde_json::from_str("\"tok\"").unwrap();
        assert_eq!(s.expose(), "tok");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"tok\"");
    }
}

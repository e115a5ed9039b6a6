//! Secret types: the merchant API key and the WeCom app secret.
//!
//! Both are zeroized when dropped, print as `***` in `Debug`, and have no
//! `Display` or `Serialize`, so they cannot end up in a log line or an error
//! message by accident. The only way to read one is [`ApiKey::expose`] /
//! [`WorkwxSecret::expose`], which this crate calls while hashing.

use core::fmt;
use zeroize::Zeroizing;

/// Why a secret was refused when it was created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret was empty.
    #[error("the {what} is empty")]
    Empty {
        /// Which secret ("API key", "WeCom app secret").
        what: &'static str,
    },
    /// The secret contains whitespace or a control character, which is
    /// almost always a copy-paste accident (a trailing newline from a file).
    #[error(
        "the {what} contains whitespace or a control character (a trailing newline from a file?)"
    )]
    Whitespace {
        /// Which secret ("API key", "WeCom app secret").
        what: &'static str,
    },
}

fn check(what: &'static str, value: &str) -> Result<(), SecretError> {
    if value.is_empty() {
        return Err(SecretError::Empty { what });
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SecretError::Whitespace { what });
    }
    Ok(())
}

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a secret, refusing an empty one or one that contains
            /// whitespace or control characters.
            ///
            /// The value is never trimmed: a secret with a trailing newline
            /// is refused rather than silently changed.
            pub fn new(value: impl Into<String>) -> Result<Self, SecretError> {
                let value = Zeroizing::new(value.into());
                check($what, &value)?;
                Ok(Self(value))
            }

            /// The secret's bytes, for hashing. Never log or display them.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }
    };
}

secret_type!(
    /// The merchant's APIv2 key (the `key` of the signing algorithm), or the
    /// sandbox signing key that replaces it against a sandbox.
    ApiKey,
    "API key"
);

secret_type!(
    /// The secret of the WeCom (WeChat Work) app whose `agentid` is sent, used
    /// only for `workwx_sign`.
    WorkwxSecret,
    "WeCom app secret"
);

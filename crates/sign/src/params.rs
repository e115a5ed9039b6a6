//! Collecting, checking and sorting parameters on the stack.

/// The most parameters one signature may cover. The largest request of the
/// family has 18 fields and the largest documented reply about 25; the rest
/// is headroom for fields WeChat adds to replies later.
pub const MAX_PARAMS: usize = 64;

/// Why a set of parameters cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A parameter name is empty or has a character outside `[a-z0-9_]`.
    #[error("parameter name {name:?} is invalid: a name is one or more of the characters a-z, 0-9, _")]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// The same name was given twice; which value to sign would be a guess.
    #[error("parameter `{name}` is given more than once")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A parameter named `sign` was passed for signing; `sign` never signs itself.
    #[error("a parameter named `sign` cannot be signed: `sign` is the result, not an input")]
    SignParameter,
    /// More parameters than [`MAX_PARAMS`].
    #[error("too many parameters: at most {max} can be signed")]
    TooMany {
        /// The limit, [`MAX_PARAMS`].
        max: usize,
    },
}

/// What to do with a parameter named `sign` while collecting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignField {
    /// Requests: a `sign` input is an error.
    Refuse,
    /// Replies: pull `sign` out as the value to verify against.
    Extract,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Non-empty parameters sorted by the raw bytes of their names, in a fixed
/// array on the stack.
pub(crate) struct Sorted<'a> {
    pairs: [(&'a str, &'a str); MAX_PARAMS],
    len: usize,
    /// The `sign` value found while collecting with [`SignField::Extract`].
    pub(crate) sign: Option<&'a str>,
}

impl<'a> Sorted<'a> {
    /// Collects `params`, dropping empty values, keeping only names for which
    /// `keep` is true, and sorting by name. Names are checked whether or not
    /// their value is empty, so a typo never hides behind an empty value.
    pub(crate) fn collect<I>(
        params: I,
        sign_field: SignField,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Self, SignError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut sorted = Sorted {
            pairs: [("", ""); MAX_PARAMS],
            len: 0,
            sign: None,
        };
        for (name, value) in params {
            if name == "sign" {
                match sign_field {
                    SignField::Refuse => return Err(SignError::SignParameter),
                    SignField::Extract => {
                        if sorted.sign.is_some() {
                            return Err(SignError::DuplicateName { name: name.into() });
                        }
                        sorted.sign = Some(value);
                        continue;
                    }
                }
            }
            if !valid_name(name) {
                return Err(SignError::InvalidName { name: name.into() });
            }
            if value.is_empty() || !keep(name) {
                continue;
            }
            if sorted.len == MAX_PARAMS {
                return Err(SignError::TooMany { max: MAX_PARAMS });
            }
            sorted.pairs[sorted.len] = (name, value);
            sorted.len += 1;
        }
        let pairs = &mut sorted.pairs[..sorted.len];
        // In-place and allocation-free; names are unique after the check below.
        pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(SignError::DuplicateName {
                name: w[0].0.into(),
            });
        }
        Ok(sorted)
    }

    /// The sorted, non-empty pairs.
    pub(crate) fn pairs(&self) -> &[(&'a str, &'a str)] {
        &self.pairs[..self.len]
    }

    /// Feeds `k=v&k=v…&<suffix_name>=<suffix>` to `update`, piece by piece.
    pub(crate) fn feed(&self, suffix_name: &str, suffix: &str, mut update: impl FnMut(&[u8])) {
        for (name, value) in self.pairs() {
            update(name.as_bytes());
            update(b"=");
            update(value.as_bytes());
            update(b"&");
        }
        update(suffix_name.as_bytes());
        update(b"=");
        update(suffix.as_bytes());
    }

    /// The canonical string with the secret shown as `***`.
    pub(crate) fn masked(&self, suffix_name: &str) -> String {
        let mut out = String::new();
        self.feed(suffix_name, "***", |bytes| {
            out.push_str(core::str::from_utf8(bytes).unwrap_or_default());
        });
        out
    }
}

//! Validation: every violation at once, each naming the field, the rule and
//! the offending value.
//!
//! Lengths are counted in **Unicode scalar values** (Rust `char`s), not in
//! bytes: the documentation phrases limits as "fewer than N characters"
//! without saying whether the server counts bytes; counting characters is the
//! reading every public SDK uses. Keep Chinese texts well inside the limits.
//!
//! Only hard format rules are checked locally (required fields, lengths,
//! character sets, enumerations, the documented amount bounds, conditional
//! fields, IPv4 addresses, characters XML 1.0 cannot carry). Quota-type
//! limits (packets per user per day, daily totals, rates, the 00:00–08:00
//! window) are merchant-configurable and advisory according to limits.md;
//! they are **not** validated here and are left to the server's reply.

use std::borrow::Cow;
use std::fmt;

use crate::values::Amount;

/// The rule a value broke.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The field is required and missing or empty.
    Required,
    /// At most this many characters (Unicode scalar values).
    MaxChars(usize),
    /// Only these characters are allowed (a human description).
    Charset(&'static str),
    /// An integer outside `min..=max`.
    Range {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// An amount outside `min..=max`.
    AmountRange {
        /// Smallest allowed amount.
        min: Amount,
        /// Largest allowed amount.
        max: Amount,
    },
    /// An amount below this minimum.
    AmountAtLeast(Amount),
    /// The average amount per packet (`total_amount / total_num`) is outside `min..=max`.
    AverageAmountRange {
        /// Smallest allowed average.
        min: Amount,
        /// Largest allowed average.
        max: Amount,
    },
    /// The value must be one of these.
    OneOf(&'static [&'static str]),
    /// Not an IPv4 address in dotted-quad form (`192.168.0.1`).
    Ipv4,
    /// Not an IP address (IPv4 `192.168.0.1` or IPv6 `2001:db8::1`) of at
    /// most this many characters.
    IpAddress(usize),
    /// At most one of the two fields may be given.
    AtMostOneOf(&'static str, &'static str),
    /// A character that XML 1.0 cannot carry (a control character other than
    /// tab, LF, CR; or U+FFFE / U+FFFF).
    XmlChar,
    /// Leading or trailing whitespace: servers disagree whether to trim it
    /// before signing, so it is refused (signing.md §2).
    Whitespace,
    /// Required because of another field's value (the condition is described).
    RequiredWhen(&'static str),
    /// Exactly one of the two fields must be given.
    ExactlyOneOf(&'static str, &'static str),
    /// The value must be exactly this constant.
    Fixed(&'static str),
    /// Not a field of this endpoint (for example `sign_type`, which this
    /// family must never receive).
    Unexpected,
    /// Not a valid calendar date.
    Date,
    /// Not a non-negative decimal integer.
    Integer,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Required => f.write_str("is required"),
            Rule::MaxChars(n) => write!(f, "must have at most {n} characters"),
            Rule::Charset(set) => write!(f, "may contain only {set}"),
            Rule::Range { min, max } if min == max => write!(f, "must be {min}"),
            Rule::Range { min, max } => write!(f, "must be between {min} and {max}"),
            Rule::AmountRange { min, max } => {
                write!(f, "must be between {min} and {max} yuan")
            }
            Rule::AmountAtLeast(min) => write!(f, "must be at least {min} yuan"),
            Rule::AverageAmountRange { min, max } => write!(
                f,
                "average per packet (total_amount / total_num) must be between {min} and {max} yuan"
            ),
            Rule::OneOf(values) => write!(f, "must be one of {}", values.join(", ")),
            Rule::Ipv4 => f.write_str("must be an IPv4 address such as 192.168.0.1"),
            Rule::IpAddress(max) => write!(
                f,
                "must be an IPv4 or IPv6 address of at most {max} characters, such as 192.168.0.1"
            ),
            Rule::AtMostOneOf(a, b) => write!(f, "at most one of `{a}` and `{b}` may be given"),
            Rule::XmlChar => f.write_str(
                "contains a character XML 1.0 cannot carry (control character other than tab/LF/CR, U+FFFE, U+FFFF)",
            ),
            Rule::Whitespace => f.write_str("must not start or end with whitespace"),
            Rule::RequiredWhen(cond) => write!(f, "is required when {cond}"),
            Rule::ExactlyOneOf(a, b) => write!(f, "exactly one of `{a}` and `{b}` must be given"),
            Rule::Fixed(v) => write!(f, "must be {v}"),
            Rule::Unexpected => f.write_str("is not a field of this endpoint"),
            Rule::Date => f.write_str("must be a valid calendar date"),
            Rule::Integer => f.write_str("must be a non-negative decimal integer"),
        }
    }
}

/// One broken rule: which field, which rule, and the offending value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// The wire name of the field (`mch_billno`, `total_amount`, ...).
    pub field: Cow<'static, str>,
    /// The rule it broke.
    pub rule: Rule,
    /// The offending value, if there is one to show.
    pub value: Option<String>,
}

impl Violation {
    /// A violation of `rule` by `field`, showing `value`.
    pub fn new(field: impl Into<Cow<'static, str>>, rule: Rule, value: Option<String>) -> Self {
        Violation {
            field: field.into(),
            rule,
            value,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field, self.rule)?;
        if let Some(value) = &self.value {
            write!(f, " (got {value:?})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

/// All violations found in one request (never empty when returned as an error).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Violations(Vec::new())
    }
    /// Adds one.
    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }
    /// Adds all of `other`.
    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }
    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Iterates over them in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.0.iter()
    }
    /// Whether any violation concerns `field`.
    pub fn has_field(&self, field: &str) -> bool {
        self.0.iter().any(|v| v.field == field)
    }
    /// The violations as a vector.
    pub fn into_vec(self) -> Vec<Violation> {
        self.0
    }
    /// `Ok(())` when empty, `Err(self)` otherwise.
    pub fn into_result(self) -> Result<(), Violations> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl From<Violation> for Violations {
    fn from(v: Violation) -> Self {
        Violations(vec![v])
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            0 => f.write_str("no violations"),
            1 => write!(f, "invalid request: {}", self.0[0]),
            n => {
                write!(f, "invalid request ({n} problems):")?;
                for v in &self.0 {
                    write!(f, "\n  - {v}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Violations {}

/// Whether `c` can appear in an XML 1.0 document (the `Char` production).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `s` is a strict dotted-quad IPv4 address (no leading zeros).
pub(crate) fn is_ipv4(s: &str) -> bool {
    s.len() <= 15 && s.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Whether `s` is an IPv4 or IPv6 address of at most `max` characters.
pub(crate) fn is_ip_address(s: &str, max: usize) -> bool {
    s.len() <= max && s.parse::<std::net::IpAddr>().is_ok()
}

/// Collects violations field by field.
#[derive(Default)]
pub(crate) struct Checker {
    pub(crate) violations: Violations,
}

impl Checker {
    pub(crate) fn new() -> Self {
        Checker::default()
    }

    pub(crate) fn push(&mut self, field: &'static str, rule: Rule, value: Option<&str>) {
        self.violations
            .push(Violation::new(field, rule, value.map(str::to_owned)));
    }

    /// Checks the content of a non-empty text value (length, XML characters, whitespace).
    fn content(&mut self, field: &'static str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.push(field, Rule::MaxChars(max), Some(value));
        }
        if crate::xml::first_forbidden(value).is_some() {
            self.push(field, Rule::XmlChar, Some(value));
        }
        let first = value.chars().next();
        let last = value.chars().next_back();
        if first.is_some_and(char::is_whitespace) || last.is_some_and(char::is_whitespace) {
            self.push(field, Rule::Whitespace, Some(value));
        }
    }

    /// A required text field of at most `max` characters.
    pub(crate) fn text(&mut self, field: &'static str, value: &str, max: usize) {
        if value.is_empty() {
            self.push(field, Rule::Required, None);
        } else {
            self.content(field, value, max);
        }
    }

    /// An optional text field; `Some("")` counts as absent (it is not sent).
    pub(crate) fn opt_text(&mut self, field: &'static str, value: Option<&str>, max: usize) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.content(field, v, max);
        }
    }

    /// A required field of ASCII characters satisfying `allowed`.
    pub(crate) fn ascii(
        &mut self,
        field: &'static str,
        value: &str,
        max: usize,
        allowed: fn(u8) -> bool,
        description: &'static str,
    ) {
        if value.is_empty() {
            self.push(field, Rule::Required, None);
            return;
        }
        if value.chars().count() > max {
            self.push(field, Rule::MaxChars(max), Some(value));
        }
        if !value.bytes().all(allowed) {
            self.push(field, Rule::Charset(description), Some(value));
        }
    }

    /// An optional unsigned decimal integer (as text).
    pub(crate) fn opt_digits(&mut self, field: &'static str, value: Option<&str>, max: usize) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.ascii(field, v, max, |b| b.is_ascii_digit(), "digits 0-9");
        }
    }

    /// A required IPv4 address.
    pub(crate) fn ipv4(&mut self, field: &'static str, value: &str) {
        if value.is_empty() {
            self.push(field, Rule::Required, None);
        } else if !is_ipv4(value) {
            self.push(field, Rule::Ipv4, Some(value));
        }
    }

    /// A required IPv4 or IPv6 address of at most `max` characters
    /// (`spbill_create_ip` is String(32)).
    pub(crate) fn ip_address(&mut self, field: &'static str, value: &str, max: usize) {
        if value.is_empty() {
            self.push(field, Rule::Required, None);
        } else if !is_ip_address(value, max) {
            self.push(field, Rule::IpAddress(max), Some(value));
        }
    }

    /// An optional text field with no length limit of its own (XML
    /// characters and whitespace are still checked).
    pub(crate) fn opt_unbounded_text(&mut self, field: &'static str, value: Option<&str>) {
        self.opt_text(field, value, usize::MAX);
    }

    /// An amount within `min..=max` fen.
    pub(crate) fn amount(&mut self, field: &'static str, value: Amount, min: u64, max: u64) {
        if value.fen() < min || value.fen() > max {
            self.violations.push(Violation::new(
                field,
                Rule::AmountRange {
                    min: Amount::from_fen(min),
                    max: Amount::from_fen(max),
                },
                Some(value.to_string()),
            ));
        }
    }

    pub(crate) fn finish(self) -> Result<(), Violations> {
        self.violations.into_result()
    }
}

pub(crate) fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

pub(crate) const ALNUM: &str = "ASCII letters and digits";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_strict() {
        for ok in ["0.0.0.0", "10.2.3.10", "255.255.255.255"] {
            assert!(is_ipv4(ok), "{ok}");
        }
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.2.3.4",
            " 1.2.3.4",
            "1.2.3.4 ",
            "::1",
            "a.b.c.d",
        ] {
            assert!(!is_ipv4(bad), "{bad}");
        }
    }
}

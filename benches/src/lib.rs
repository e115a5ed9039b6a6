//! Shared fixture for the hongbao criterion benchmarks.
//!
//! The benchmarks live in `benches/benches/*.rs`; run them with
//! `cargo xtask bench` (or `cargo bench -p hongbao-benches`). Every benchmark
//! works on the same request, `fixtures/fixture.json` (a copy of the
//! protocol reference's bench fixture, so that a clone is self-contained).
//!
//! ```
//! let fixture = hongbao_benches::Fixture::load()?;
//! assert_eq!(fixture.api, "sendredpack");
//! assert_eq!(fixture.expected.string_to_sign.len(), fixture.expected.string_to_sign_bytes);
//! # Ok::<(), serde_json::Error>(())
//! ```
// Not a published API (bench helpers, not published: nothing is public API): exhaustive structs are reviewed in #11's follow-up.
#![allow(clippy::exhaustive_structs)]

use serde::Deserialize;

/// The fixture file's text, embedded at compile time.
pub const FIXTURE_JSON: &str = include_str!("../fixtures/fixture.json");

/// The benchmark fixture: one `sendredpack` request, its expected
/// signatures, and a signed reply body.
#[derive(Debug, Clone, Deserialize)]
pub struct Fixture {
    /// The endpoint name the request is for (`sendredpack`).
    pub api: String,
    /// The API key the expected signatures were made with (a published
    /// example key, not a real one).
    pub api_key: String,
    /// The request parameters, without `sign`, in the fixture's order.
    #[serde(deserialize_with = "ordered_pairs")]
    pub params: Vec<(String, String)>,
    /// What signing these parameters must give.
    pub expected: Expected,
    /// A reply body (XML) carrying an MD5 `sign` over its other fields.
    pub reply_xml: String,
    /// The `sign` of [`Fixture::reply_xml`].
    pub reply_sign: String,
}

/// The expected results of signing [`Fixture::params`].
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    /// The canonical string, ending in `&key=<api_key>` (unmasked).
    pub string_to_sign: String,
    /// Its length in bytes (UTF-8).
    pub string_to_sign_bytes: usize,
    /// Its length in Unicode scalar values.
    pub string_to_sign_chars: usize,
    /// The MD5 `sign`.
    pub md5_sign: String,
    /// The HMAC-SHA256 `sign`.
    pub hmac_sha256_sign: String,
}

impl Fixture {
    /// Parses the embedded fixture.
    pub fn load() -> Result<Self, serde_json::Error> {
        serde_json::from_str(FIXTURE_JSON)
    }

    /// The parameters as borrowed pairs, the form the signers take.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.params
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect()
    }
}

/// Reads a JSON object as a list of pairs in document order (a map would
/// sort the keys and hide the signer's own sorting).
fn ordered_pairs<'de, D>(deserializer: D) -> Result<Vec<(String, String)>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Pairs;

    impl<'de> serde::de::Visitor<'de> for Pairs {
        type Value = Vec<(String, String)>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of string values")
        }

        fn visit_map<A>(self, mut map: A) -> Result<Self::Value, A::Error>
        where
            A: serde::de::MapAccess<'de>,
        {
            let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(pair) = map.next_entry::<String, String>()? {
                pairs.push(pair);
            }
            Ok(pairs)
        }
    }

    deserializer.deserialize_map(Pairs)
}

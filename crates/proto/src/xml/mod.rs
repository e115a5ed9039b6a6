//! XML out (bodies a strict server reads back exactly) and XML in (replies,
//! tolerant of change, safe against attack).
//!
//! # Writing
//!
//! [`write_document`] writes `<xml>` with one child element per field, into
//! one buffer whose exact size is computed first. Each value is written so
//! that a conforming XML 1.0 reader recovers it **byte for byte** (the server
//! signs what it reads, so anything else is a `SIGN_ERROR`):
//!
//! * plain text when every byte is printable ASCII other than `<`, `>`, `&`;
//! * otherwise a CDATA section, with each `]]>` split as `]]]]><![CDATA[>`;
//! * except when the value contains a carriage return: a reader normalises
//!   literal CR and CRLF to LF (also inside CDATA), so such values are written
//!   as escaped text with `&#13;` for CR and `&amp;`, `&lt;`, `&gt;`.
//!
//! Characters XML 1.0 cannot carry at all (control characters other than
//! tab, LF, CR; U+FFFE, U+FFFF) are refused by validation before building;
//! if one reaches the writer anyway it is written as a character reference,
//! which a strict reader rejects as malformed: the server refuses the body
//! (`XML_ERROR`, nothing paid) instead of reading a different value.
//!
//! # Reading
//!
//! [`RawXml::parse`] accepts a UTF-8 document with root `<xml>`: no DTD (a
//! `DOCTYPE` is refused, so no external or custom entities: XXE is
//! impossible), only the five predefined entities and character references,
//! fields in any order, CDATA or text or both, empty elements as `""`,
//! unknown fields kept, values never trimmed (whitespace-only text *between*
//! elements is ignored), line ends normalised like a conforming parser
//! (literal CR LF and CR become LF; `&#13;` stays CR), a repeated field is an
//! error. `hblist/hbinfo` become [`RawXml::records`]; other nested elements
//! are skipped. Bodies over [`MAX_BODY_BYTES`] or nested deeper than
//! [`MAX_DEPTH`] are refused.

mod read;
mod write;

pub(crate) use read::first_forbidden;
pub use read::{RawXml, XmlError};
pub use write::{Records, write_document};

/// The largest reply body [`RawXml::parse`] accepts (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The deepest element nesting [`RawXml::parse`] accepts (`<xml>` is depth 1).
pub const MAX_DEPTH: usize = 16;

//! Reading: replies (and request bodies), tolerant of change, safe against
//! attack. See the [module docs](super).

use std::fmt;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::{MAX_BODY_BYTES, MAX_DEPTH};
use crate::validate::is_xml_char;

/// Why a body is not an acceptable XML reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed XML (or not the shape `<xml><field>…</field>…</xml>`).
    #[error("malformed XML at byte {position}: {message}")]
    Malformed {
        /// Byte offset where the problem was found.
        position: u64,
        /// What is wrong.
        message: String,
    },
    /// The document has a `DOCTYPE` (refused: no DTDs, no custom or external entities).
    #[error("the document has a DOCTYPE; DTDs and custom entities are refused")]
    Dtd,
    /// An entity other than `lt gt amp apos quot`, or a character reference
    /// to a character XML does not allow.
    #[error("entity or character reference `&{name};` is not allowed")]
    Entity {
        /// The reference's content (`nbsp`, `#0`, ...).
        name: String,
    },
    /// The same field appears twice; which one the server meant is unknowable.
    #[error("field `{field}` appears more than once")]
    Duplicate {
        /// The repeated field.
        field: String,
    },
    /// The body exceeds [`MAX_BODY_BYTES`].
    #[error("the body exceeds {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// Elements are nested deeper than [`MAX_DEPTH`].
    #[error("elements are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The root element is not `<xml>` (or there is none).
    #[error("the root element is not <xml>")]
    NotXmlRoot,
    /// The body is not valid UTF-8.
    #[error("the body is not valid UTF-8")]
    Utf8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    name: (usize, usize),
    /// Summary of the name, to find fields without comparing bytes.
    key: NameKey,
    value: (usize, usize),
}

/// A name's length and its first and last (up to) eight bytes: equal keys
/// mean equal names when the length is at most 16, and a differing key
/// always means a different name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NameKey {
    len: usize,
    head: u64,
    tail: u64,
}

impl NameKey {
    /// Names up to this length are fully described by their key.
    const EXACT: usize = 16;

    fn of(name: &[u8]) -> NameKey {
        let (head, tail) = match (name.first_chunk::<8>(), name.last_chunk::<8>()) {
            (Some(head), Some(tail)) => (u64::from_le_bytes(*head), u64::from_le_bytes(*tail)),
            _ => {
                let mut padded = [0u8; 8];
                for (dst, src) in padded.iter_mut().zip(name) {
                    *dst = *src;
                }
                (u64::from_le_bytes(padded), 0)
            }
        };
        NameKey {
            len: name.len(),
            head,
            tail,
        }
    }

    /// Whether the field named `field` (in `text`, with key `self`) is
    /// `name` (with key `key`).
    #[inline]
    fn matches(self, text: &[u8], field: (usize, usize), key: NameKey, name: &[u8]) -> bool {
        self == key && (key.len <= Self::EXACT || text.get(field.0..field.1) == Some(name))
    }
}

/// A parsed reply (or request) body: its flat fields in document order, the
/// `hblist/hbinfo` records, and the raw bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct RawXml {
    body: Vec<u8>,
    text: String,
    fields: Vec<Span>,
    records: Vec<Vec<(String, String)>>,
}

impl fmt::Debug for RawXml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawXml")
            .field("fields", &self.fields().collect::<Vec<_>>())
            .field("records", &self.records)
            .finish()
    }
}

/// Serialized (serde) as its `Debug` shows it: `fields` (name, value
/// pairs in document order) and `records`; the raw bytes are left out.
impl serde::Serialize for RawXml {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("RawXml", 2)?;
        st.serialize_field("fields", &self.fields().collect::<Vec<_>>())?;
        st.serialize_field("records", &self.records)?;
        st.end()
    }
}

#[derive(Clone, Copy)]
enum Level {
    /// A direct child of `<xml>`: a field, unless it turns out to contain elements.
    Field { span: Span },
    /// `<hblist>`: its children are records.
    Container,
    /// `<hbinfo>` in `<hblist>`.
    Record,
    /// A field of a record.
    RecordField {
        name: (usize, usize),
        value_start: usize,
    },
    /// An element being skipped (nested content we do not model).
    Skip,
}

/// The open elements below `<xml>`, in a fixed array (no allocation per parse).
struct Stack {
    levels: [Level; MAX_DEPTH],
    len: usize,
}

impl Stack {
    fn new() -> Self {
        Stack {
            levels: [Level::Skip; MAX_DEPTH],
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn last(&self) -> Option<&Level> {
        self.levels.get(self.len.checked_sub(1)?)
    }

    fn last_mut(&mut self) -> Option<&mut Level> {
        self.levels.get_mut(self.len.checked_sub(1)?)
    }

    /// Pushes `level`; false if the stack is full.
    fn push(&mut self, level: Level) -> bool {
        match self.levels.get_mut(self.len) {
            Some(slot) => {
                *slot = level;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    fn pop(&mut self) -> Option<Level> {
        self.len = self.len.checked_sub(1)?;
        self.levels.get(self.len).copied()
    }
}

struct Parser<'a> {
    src: &'a str,
    text: String,
    fields: Vec<Span>,
    records: Vec<Vec<(String, String)>>,
    record: Vec<(String, String)>,
    stack: Stack,
    root_open: bool,
    root_done: bool,
}

/// Whether `bytes` has a control byte (tab, LF and CR included) or 0xEF (the
/// lead byte of U+FFFE and U+FFFF). A branch-free pass (vectorises): most
/// values have neither.
fn suspicious(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(false, |acc, &b| acc | (b < 0x20) | (b == 0xef))
}

/// The first character XML 1.0 does not allow, found with a byte scan
/// (controls other than tab/LF/CR; U+FFFE and U+FFFF, encoded EF BF BE/BF).
pub(crate) fn first_forbidden(raw: &str) -> Option<char> {
    let bytes = raw.as_bytes();
    if !suspicious(bytes) {
        return None;
    }
    for (i, &b) in bytes.iter().enumerate() {
        if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') {
            return Some(char::from(b));
        }
        if b == 0xef && bytes.get(i + 1) == Some(&0xbf) {
            match bytes.get(i + 2) {
                Some(0xbe) => return Some('\u{FFFE}'),
                Some(0xbf) => return Some('\u{FFFF}'),
                _ => {}
            }
        }
    }
    None
}

fn malformed(position: u64, message: impl Into<String>) -> XmlError {
    XmlError::Malformed {
        position,
        message: message.into(),
    }
}

impl<'a> Parser<'a> {
    fn push_name(&mut self, name: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(name);
        (start, self.text.len())
    }

    fn str_at(&self, (a, b): (usize, usize)) -> &str {
        self.text.get(a..b).unwrap_or_default()
    }

    /// Appends character data with line-end normalisation; refuses characters XML forbids.
    fn push_text(&mut self, raw: &str, pos: u64) -> Result<(), XmlError> {
        if !suspicious(raw.as_bytes()) {
            // No control byte (so no CR) and no 0xEF: nothing to check or
            // normalise.
            self.text.push_str(raw);
            return Ok(());
        }
        if let Some(c) = first_forbidden(raw) {
            return Err(malformed(
                pos,
                format!("character U+{:04X} is not allowed in XML", u32::from(c)),
            ));
        }
        if !raw.contains('\r') {
            self.text.push_str(raw);
            return Ok(());
        }
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\r' {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                self.text.push('\n');
            } else {
                self.text.push(c);
            }
        }
        Ok(())
    }

    fn collecting_text(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Level::Field { .. }) | Some(Level::RecordField { .. })
        )
    }

    fn start(&mut self, name: &str, empty: bool, pos: u64) -> Result<(), XmlError> {
        if !self.root_open {
            if self.root_done {
                return Err(malformed(pos, "content after the root element"));
            }
            if name != "xml" {
                return Err(XmlError::NotXmlRoot);
            }
            if empty {
                self.root_done = true;
            } else {
                self.root_open = true;
            }
            return Ok(());
        }
        if self.stack.len() + 2 > MAX_DEPTH {
            return Err(XmlError::TooDeep);
        }
        let level = match self.stack.last_mut() {
            None => {
                let key = NameKey::of(name.as_bytes());
                let name = self.push_name(name);
                let at = self.text.len();
                Level::Field {
                    span: Span {
                        name,
                        key,
                        value: (at, at),
                    },
                }
            }
            Some(Level::Field { span }) => {
                // The field has element children: a container, not a value.
                let name_range = span.name;
                let value_start = span.value.0;
                let is_hblist = self.text.get(name_range.0..name_range.1) == Some("hblist");
                let pending = self.text.get(value_start..).unwrap_or_default();
                if !pending.chars().all(char::is_whitespace) {
                    return Err(malformed(pos, "text mixed with elements"));
                }
                self.text.truncate(name_range.0);
                let parent = if is_hblist {
                    Level::Container
                } else {
                    Level::Skip
                };
                if let Some(top) = self.stack.last_mut() {
                    *top = parent;
                }
                if is_hblist {
                    self.record.clear();
                    Level::Record
                } else {
                    Level::Skip
                }
            }
            Some(Level::Container) => {
                self.record.clear();
                Level::Record
            }
            Some(Level::Record) => {
                let name = self.push_name(name);
                Level::RecordField {
                    name,
                    value_start: self.text.len(),
                }
            }
            Some(Level::RecordField { .. }) | Some(Level::Skip) => Level::Skip,
        };
        if !self.stack.push(level) {
            return Err(XmlError::TooDeep);
        }
        if empty {
            self.end(pos)?;
        }
        Ok(())
    }

    fn end(&mut self, pos: u64) -> Result<(), XmlError> {
        let Some(level) = self.stack.pop() else {
            if self.root_open {
                self.root_open = false;
                self.root_done = true;
                return Ok(());
            }
            return Err(malformed(pos, "unexpected end tag"));
        };
        match level {
            Level::Field { mut span } => {
                span.value.1 = self.text.len();
                let text = self.text.as_bytes();
                let name = text.get(span.name.0..span.name.1).unwrap_or_default();
                if self
                    .fields
                    .iter()
                    .any(|f| f.key.matches(text, f.name, span.key, name))
                {
                    return Err(XmlError::Duplicate {
                        field: self.str_at(span.name).to_owned(),
                    });
                }
                self.fields.push(span);
            }
            Level::Container | Level::Skip => {}
            Level::Record => {
                let record = std::mem::take(&mut self.record);
                self.records.push(record);
            }
            Level::RecordField { name, value_start } => {
                let field = self.str_at(name).to_owned();
                let value = self.text.get(value_start..).unwrap_or_default().to_owned();
                self.text.truncate(name.0);
                if self.record.iter().any(|(n, _)| *n == field) {
                    return Err(XmlError::Duplicate { field });
                }
                self.record.push((field, value));
            }
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), XmlError> {
        let mut reader = Reader::from_str(self.src);
        loop {
            let pos = reader.buffer_position();
            let event = reader
                .read_event()
                .map_err(|e| malformed(reader.error_position(), e.to_string()))?;
            match event {
                Event::DocType(_) => return Err(XmlError::Dtd),
                Event::Start(e) => {
                    let name = e.name();
                    self.start(name.as_ref(), false, pos)?;
                }
                Event::Empty(e) => {
                    let name = e.name();
                    self.start(name.as_ref(), true, pos)?;
                }
                Event::End(_) => self.end(pos)?,
                Event::Text(t) => {
                    if self.collecting_text() {
                        self.push_text(&t, pos)?;
                    } else if !t.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) {
                        if matches!(self.stack.last(), Some(Level::Skip)) {
                            continue;
                        }
                        return Err(malformed(pos, "text outside a field"));
                    }
                }
                Event::CData(t) => {
                    if self.collecting_text() {
                        self.push_text(&t, pos)?;
                    } else if !matches!(self.stack.last(), Some(Level::Skip)) {
                        return Err(malformed(pos, "CDATA outside a field"));
                    }
                }
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => c,
                        Ok(Some(_)) | Err(_) => {
                            return Err(XmlError::Entity {
                                name: r.to_string(),
                            });
                        }
                        Ok(None) => match &*r {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "apos" => '\'',
                            "quot" => '"',
                            _ => {
                                return Err(XmlError::Entity {
                                    name: r.to_string(),
                                });
                            }
                        },
                    };
                    if self.collecting_text() {
                        self.text.push(c);
                    } else if !matches!(self.stack.last(), Some(Level::Skip)) {
                        return Err(malformed(pos, "reference outside a field"));
                    }
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => {
                    if self.root_open {
                        return Err(malformed(pos, "unexpected end of document"));
                    }
                    if !self.root_done {
                        return Err(XmlError::NotXmlRoot);
                    }
                    return Ok(());
                }
            }
        }
    }
}

impl RawXml {
    /// Parses a body. See the module docs for what is accepted.
    pub fn parse(body: &[u8]) -> Result<RawXml, XmlError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(XmlError::TooLarge);
        }
        let src = std::str::from_utf8(body).map_err(|_| XmlError::Utf8)?;
        let mut parser = Parser {
            src,
            text: String::with_capacity(body.len()),
            fields: Vec::with_capacity(16),
            records: Vec::new(),
            record: Vec::new(),
            stack: Stack::new(),
            root_open: false,
            root_done: false,
        };
        parser.run()?;
        Ok(RawXml {
            body: body.to_vec(),
            text: parser.text,
            fields: parser.fields,
            records: parser.records,
        })
    }

    fn slice(&self, (a, b): (usize, usize)) -> &str {
        self.text.get(a..b).unwrap_or_default()
    }

    /// The value of a top-level field (exactly as sent, after XML decoding).
    pub fn get(&self, name: &str) -> Option<&str> {
        let text = self.text.as_bytes();
        let name = name.as_bytes();
        let key = NameKey::of(name);
        self.fields
            .iter()
            .find(|f| f.key.matches(text, f.name, key, name))
            .map(|f| self.slice(f.value))
    }

    /// The value of a field, `None` when absent or empty.
    pub fn get_non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// All top-level fields in document order, unknown ones included
    /// (container elements such as `hblist` are not fields).
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields
            .iter()
            .map(|f| (self.slice(f.name), self.slice(f.value)))
    }

    /// How many top-level fields there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the document has no top-level fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Each `<hbinfo>` under `<hblist>`, as its fields in document order.
    pub fn records(&self) -> &[Vec<(String, String)>] {
        &self.records
    }

    /// The raw body as received.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

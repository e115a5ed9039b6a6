//! A small reader for flat `<xml><name>value</name>…</xml>` request bodies,
//! used by the mock to show tests what a server would see.

use std::fmt;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};

/// The body is not a flat `<xml>` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlFieldsError {
    message: String,
}

impl XmlFieldsError {
    fn new(message: impl Into<String>) -> Self {
        XmlFieldsError {
            message: message.into(),
        }
    }
}

impl fmt::Display for XmlFieldsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a flat <xml> document: {}", self.message)
    }
}

impl std::error::Error for XmlFieldsError {}

/// Parses `<xml><name>value</name>…</xml>` into `(name, value)` pairs in
/// document order (duplicates kept), exactly as an XML 1.0 parser on the server
/// would see the values:
///
/// * CDATA sections are taken verbatim and may be split (`<![CDATA[a]]]]><![CDATA[>b]]>` is `a]]>b`);
/// * the predefined entities (`&lt;` `&gt;` `&amp;` `&apos;` `&quot;`) and
///   character references (`&#13;`, `&#x0D;`) are resolved;
/// * raw line breaks (`\r\n`, lone `\r`), in text and in CDATA, are normalized
///   to `\n` as XML 1.0 requires — only a character reference preserves `\r`;
/// * `<name/>` is an empty value.
///
/// Errors: not UTF-8, a DTD, a root other than `<xml>`, nested elements, text
/// outside elements, an unknown entity, malformed XML.
pub fn parse_xml_fields(body: &[u8]) -> Result<Vec<(String, String)>, XmlFieldsError> {
    let text =
        std::str::from_utf8(body).map_err(|e| XmlFieldsError::new(format!("not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text);
    let mut fields = Vec::new();

    #[derive(PartialEq)]
    enum State {
        BeforeRoot,
        InRoot,
        InField,
        AfterRoot,
    }
    let mut state = State::BeforeRoot;
    let mut name = String::new();
    let mut value = String::new();

    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlFieldsError::new(format!("malformed XML: {e}")))?;
        match (&state, event) {
            (_, Event::DocType(_)) => return Err(XmlFieldsError::new("DTDs are not allowed")),
            (_, Event::Comment(_) | Event::PI(_)) => {}
            (State::BeforeRoot, Event::Decl(_)) => {}
            (State::BeforeRoot | State::AfterRoot | State::InRoot, Event::Text(t))
                if t.chars().all(|c| c.is_ascii_whitespace()) => {}
            (State::BeforeRoot, Event::Start(e)) => {
                if e.name().as_ref() != "xml" {
                    return Err(XmlFieldsError::new("the root element is not <xml>"));
                }
                state = State::InRoot;
            }
            (State::BeforeRoot, Event::Empty(e)) => {
                if e.name().as_ref() != "xml" {
                    return Err(XmlFieldsError::new("the root element is not <xml>"));
                }
                state = State::AfterRoot;
            }
            (State::InRoot, Event::Start(e)) => {
                name = e.name().as_ref().to_owned();
                value.clear();
                state = State::InField;
            }
            (State::InRoot, Event::Empty(e)) => {
                fields.push((e.name().as_ref().to_owned(), String::new()));
            }
            (State::InRoot, Event::End(_)) => state = State::AfterRoot,
            (State::InField, Event::Text(t)) => value.push_str(&t.xml10_content()),
            (State::InField, Event::CData(c)) => value.push_str(&c.xml10_content()),
            (State::InField, Event::GeneralRef(r)) => value.push(resolve_reference(&r)?),
            (State::InField, Event::End(_)) => {
                fields.push((std::mem::take(&mut name), std::mem::take(&mut value)));
                state = State::InRoot;
            }
            (State::InField, Event::Start(_) | Event::Empty(_)) => {
                return Err(XmlFieldsError::new(format!(
                    "element <{name}> contains a nested element"
                )));
            }
            (State::AfterRoot, Event::Start(_) | Event::Empty(_)) => {
                return Err(XmlFieldsError::new("more than one root element"));
            }
            (State::AfterRoot, Event::Eof) => return Ok(fields),
            (_, Event::Eof) => return Err(XmlFieldsError::new("unexpected end of document")),
            (_, Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)) => {
                return Err(XmlFieldsError::new("text outside of a field element"));
            }
            (_, _) => return Err(XmlFieldsError::new("unexpected markup")),
        }
    }
}

fn resolve_reference(r: &BytesRef<'_>) -> Result<char, XmlFieldsError> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(XmlFieldsError::new("invalid character reference")),
        };
    }
    match r.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(XmlFieldsError::new("unknown entity reference")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn flat_document_with_cdata_and_entities() {
        let body = "<?xml version=\"1.0\"?>\n<xml>\n  <mch_id>1900000109</mch_id>\n  \
            <act_name><![CDATA[新年 <红包>]]></act_name>\n  \
            <remark><![CDATA[a]]]]><![CDATA[>b]]></remark>\n  \
            <wishing>x&#13;&#10;y &amp; &lt;z&gt; &quot;q&apos; &#x4E2D;</wishing>\n  \
            <empty/><empty2></empty2>\n</xml>\n";
        let fields = parse_xml_fields(body.as_bytes());
        assert_eq!(
            fields,
            Ok(pairs(&[
                ("mch_id", "1900000109"),
                ("act_name", "新年 <红包>"),
                ("remark", "a]]>b"),
                ("wishing", "x\r\ny & <z> \"q' 中"),
                ("empty", ""),
                ("empty2", ""),
            ]))
        );
    }

    #[test]
    fn raw_line_breaks_are_normalized_like_a_server_would() {
        let body = "<xml><a>1\r\n2\r3</a><b><![CDATA[4\r\n5]]></b></xml>";
        assert_eq!(
            parse_xml_fields(body.as_bytes()),
            Ok(pairs(&[("a", "1\n2\n3"), ("b", "4\n5")]))
        );
    }

    #[test]
    fn whitespace_in_values_is_kept() {
        let body = "<xml><a>  spaced  </a></xml>";
        assert_eq!(
            parse_xml_fields(body.as_bytes()),
            Ok(pairs(&[("a", "  spaced  ")]))
        );
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [
            "<root><a>1</a></root>",
            "<xml><a><b>1</b></a></xml>",
            "<xml>text<a>1</a></xml>",
            "<xml><a>1</a>",
            "<xml><a>1</b></xml>",
            "<!DOCTYPE xml [<!ENTITY e \"x\">]><xml><a>&e;</a></xml>",
            "<xml><a>&unknown;</a></xml>",
            "<xml><a>&#0;</a></xml>",
            "<xml></xml><xml></xml>",
            "",
        ] {
            assert!(
                parse_xml_fields(bad.as_bytes()).is_err(),
                "accepted {bad:?}"
            );
        }
        assert!(parse_xml_fields(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn empty_root() {
        assert_eq!(parse_xml_fields(b"<xml/>"), Ok(vec![]));
        assert_eq!(parse_xml_fields(b"<xml></xml>"), Ok(vec![]));
    }
}

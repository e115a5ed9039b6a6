//! Writing: request bodies (and emulators' replies) a strict server reads
//! back byte for byte. See the [module docs](super).

use crate::validate::is_xml_char;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Cdata,
    Escaped,
}

/// How a value will be written, from one pass over its bytes.
#[derive(Clone, Copy)]
struct Scan {
    mode: Mode,
    /// Occurrences of `]]>` (each costs a CDATA split).
    splits: usize,
}

fn scan(value: &str) -> Scan {
    let bytes = value.as_bytes();
    // One branch-free pass (vectorises) to classify the common cases.
    let (mut control, mut markup, mut high, mut gt, mut ef) = (false, false, false, false, false);
    for &b in bytes {
        control |= (b < 0x20) & (b != b'\t') & (b != b'\n');
        markup |= (b == b'<') | (b == b'&') | (b == b'\t') | (b == b'\n') | (b == 0x7f);
        high |= b >= 0x80;
        gt |= b == b'>';
        ef |= b == 0xef;
    }
    if control {
        // CR, or a control character XML cannot carry at all.
        return Scan {
            mode: Mode::Escaped,
            splits: 0,
        };
    }
    if ef
        && bytes
            .windows(3)
            .any(|w| w[0] == 0xef && w[1] == 0xbf && (w[2] == 0xbe || w[2] == 0xbf))
    {
        // U+FFFE / U+FFFF (EF BF BE / EF BF BF) are not XML characters.
        return Scan {
            mode: Mode::Escaped,
            splits: 0,
        };
    }
    if !(markup | high | gt) {
        return Scan {
            mode: Mode::Plain,
            splits: 0,
        };
    }
    let splits = if gt {
        bytes.windows(3).filter(|w| *w == b"]]>").count()
    } else {
        0
    };
    Scan {
        mode: Mode::Cdata,
        splits,
    }
}

const CDATA_OPEN: &[u8] = b"<![CDATA[";
const CDATA_CLOSE: &[u8] = b"]]>";
const CDATA_SPLIT: &[u8] = b"]]]]><![CDATA[>";

fn escaped_char_len(c: char) -> usize {
    match c {
        '&' => 5,
        '<' | '>' => 4,
        '\r' => 5,
        '\t' | '\n' => 1,
        c if !is_xml_char(c) => 4 + hex_digits(u32::from(c)),
        c => c.len_utf8(),
    }
}

fn hex_digits(mut n: u32) -> usize {
    let mut digits = 1;
    while n >= 16 {
        n >>= 4;
        digits += 1;
    }
    digits
}

/// Bytes [`write_value`] will write for `value`.
fn value_len(value: &str, scan: Scan) -> usize {
    match scan.mode {
        Mode::Plain => value.len(),
        Mode::Cdata => {
            CDATA_OPEN.len()
                + value.len()
                + CDATA_CLOSE.len()
                + scan.splits * (CDATA_SPLIT.len() - 3)
        }
        Mode::Escaped => value.chars().map(escaped_char_len).sum(),
    }
}

fn write_value(out: &mut Vec<u8>, value: &str, scan: Scan) {
    match scan.mode {
        Mode::Plain => out.extend_from_slice(value.as_bytes()),
        Mode::Cdata => {
            out.extend_from_slice(CDATA_OPEN);
            let bytes = value.as_bytes();
            if scan.splits == 0 {
                out.extend_from_slice(bytes);
            } else {
                let mut from = 0;
                for i in 2..bytes.len() {
                    if bytes[i] == b'>' && bytes[i - 1] == b']' && bytes[i - 2] == b']' {
                        out.extend_from_slice(&bytes[from..i - 2]);
                        out.extend_from_slice(CDATA_SPLIT);
                        from = i + 1;
                    }
                }
                out.extend_from_slice(&bytes[from..]);
            }
            out.extend_from_slice(CDATA_CLOSE);
        }
        Mode::Escaped => {
            let mut buf = [0u8; 4];
            for c in value.chars() {
                match c {
                    '&' => out.extend_from_slice(b"&amp;"),
                    '<' => out.extend_from_slice(b"&lt;"),
                    '>' => out.extend_from_slice(b"&gt;"),
                    '\r' => out.extend_from_slice(b"&#13;"),
                    '\t' | '\n' => out.push(c as u8),
                    c if !is_xml_char(c) => {
                        out.extend_from_slice(format!("&#x{:X};", u32::from(c)).as_bytes());
                    }
                    c => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
                }
            }
        }
    }
}

fn element_len(name: &str, value: &str, scan: Scan) -> usize {
    // <name>value</name>\n
    2 * name.len() + 5 + value_len(value, scan) + 1
}

fn write_element(out: &mut Vec<u8>, name: &str, value: &str, scan: Scan) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    write_value(out, value, scan);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">\n");
}

/// Nested records written after the flat fields, such as
/// `<hblist><hbinfo>…</hbinfo>…</hblist>` in a `gethbinfo` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Records<'a> {
    /// The container element (`hblist`).
    pub container: &'a str,
    /// The element of each record (`hbinfo`).
    pub item: &'a str,
    /// The fields of each record, in order.
    pub entries: Vec<Vec<(&'a str, &'a str)>>,
}

impl<'a> Records<'a> {
    /// `hblist` / `hbinfo` records.
    pub fn hblist(entries: Vec<Vec<(&'a str, &'a str)>>) -> Self {
        Records {
            container: "hblist",
            item: "hbinfo",
            entries,
        }
    }
}

/// Writes `<xml>` with one element per field (in the given order, empty
/// values included as empty elements), then the records if any. Used for
/// request bodies and, by emulators, for replies. Names must be XML names
/// (the field names of this API are `[a-z0-9_]`); see the module docs for
/// how values are encoded.
pub fn write_document(fields: &[(&str, &str)], records: Option<&Records<'_>>) -> Vec<u8> {
    let scans: Vec<Scan> = fields.iter().map(|(_, v)| scan(v)).collect();
    let mut len = b"<xml>\n</xml>".len();
    len += fields
        .iter()
        .zip(&scans)
        .map(|((n, v), s)| element_len(n, v, *s))
        .sum::<usize>();
    if let Some(r) = records {
        len += 2 * r.container.len() + 7;
        for entry in &r.entries {
            len += 2 * r.item.len() + 7;
            len += entry
                .iter()
                .map(|(n, v)| element_len(n, v, scan(v)))
                .sum::<usize>();
        }
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"<xml>\n");
    for ((name, value), s) in fields.iter().zip(&scans) {
        write_element(&mut out, name, value, *s);
    }
    if let Some(r) = records {
        out.push(b'<');
        out.extend_from_slice(r.container.as_bytes());
        out.extend_from_slice(b">\n");
        for entry in &r.entries {
            out.push(b'<');
            out.extend_from_slice(r.item.as_bytes());
            out.extend_from_slice(b">\n");
            for (name, value) in entry {
                write_element(&mut out, name, value, scan(value));
            }
            out.extend_from_slice(b"</");
            out.extend_from_slice(r.item.as_bytes());
            out.extend_from_slice(b">\n");
        }
        out.extend_from_slice(b"</");
        out.extend_from_slice(r.container.as_bytes());
        out.extend_from_slice(b">\n");
    }
    out.extend_from_slice(b"</xml>");
    debug_assert_eq!(out.len(), len);
    out
}

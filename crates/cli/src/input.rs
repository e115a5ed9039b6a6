//! Streaming CSV reader for batch files.
//!
//! Header: `openid`, `amount` (yuan, e.g. `1.00`), optional `bill`, `name`
//! (real name for `FORCE_CHECK`) and per-row overrides of the text fields
//! (`send_name`, `act_name`, `wishing`, `remark`, `sender_name`, `agentid`,
//! `desc`, `scene_id`), and `key`: the payout's idempotency key in the
//! ledger (default: batch, openid and the n-th occurrence of the openid). Rows are read one at a time (memory does not grow
//! with the file) while the file's SHA-256 is computed on the way.

use crate::config::Texts;
use std::fmt;
use std::io::Read;

/// Columns a batch file may have.
pub const COLUMNS: &[&str] = &[
    "openid",
    "amount",
    "bill",
    "name",
    "send_name",
    "act_name",
    "wishing",
    "remark",
    "sender_name",
    "agentid",
    "desc",
    "scene_id",
    "total_num",
    "key",
];

/// One data row, as text (validated later against the protocol rules).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsvRow {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    /// Recipient openid.
    pub openid: String,
    /// Amount in yuan, as written.
    pub amount: String,
    /// Caller-chosen bill number, if any.
    pub bill: Option<String>,
    /// Real name (for `FORCE_CHECK`), if any.
    pub name: Option<String>,
    /// Per-row text overrides.
    pub texts: Texts,
    /// The payout's idempotency key in the ledger (`key` column), if any.
    pub key: Option<String>,
}

/// A problem with one row: line, field and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowIssue {
    /// Line number in the file.
    pub line: u64,
    /// CSV column (or `row` for the row as a whole).
    pub field: String,
    /// The rule, in words.
    pub rule: String,
}

impl fmt::Display for RowIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.rule)
    }
}

/// A problem with the file as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The header line is unusable.
    #[error("{path}: bad header: {message}")]
    Header {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

struct HashingReader<R> {
    inner: R,
    hasher: hongbao_sign::digest::Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Iterator over the rows of a batch file.
pub struct CsvPayouts<R: Read> {
    reader: csv::Reader<HashingReader<R>>,
    index: [Option<usize>; COLUMNS.len()],
    width: usize,
    record: csv::StringRecord,
    path: String,
    failed: bool,
}

impl<R: Read> fmt::Debug for CsvPayouts<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvPayouts")
            .field("path", &self.path)
            .finish()
    }
}

impl<R: Read> CsvPayouts<R> {
    /// Reads the header; `path` is only used in messages.
    pub fn new(source: R, path: &str) -> Result<Self, InputError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::None)
            .from_reader(HashingReader {
                inner: source,
                hasher: hongbao_sign::digest::Sha256::new(),
            });
        let header_err = |message: String| InputError::Header {
            path: path.to_owned(),
            message,
        };
        let headers = reader
            .headers()
            .map_err(|e| match e.kind() {
                csv::ErrorKind::Io(_) => match e.into_kind() {
                    csv::ErrorKind::Io(source) => InputError::Io {
                        path: path.to_owned(),
                        source,
                    },
                    _ => header_err("unreadable".into()),
                },
                _ => header_err(e.to_string()),
            })?
            .clone();
        let mut index = [None; COLUMNS.len()];
        for (i, name) in headers.iter().enumerate() {
            let name = name.trim_start_matches('\u{feff}');
            let Some(slot) = COLUMNS.iter().position(|c| *c == name) else {
                return Err(header_err(format!(
                    "unknown column {name:?} (known: {})",
                    COLUMNS.join(", ")
                )));
            };
            if index[slot].is_some() {
                return Err(header_err(format!("column {name:?} appears twice")));
            }
            index[slot] = Some(i);
        }
        for required in ["openid", "amount"] {
            if !headers
                .iter()
                .any(|h| h.trim_start_matches('\u{feff}') == required)
            {
                return Err(header_err(format!("missing required column {required:?}")));
            }
        }
        Ok(CsvPayouts {
            reader,
            index,
            width: headers.len(),
            record: csv::StringRecord::new(),
            path: path.to_owned(),
            failed: false,
        })
    }

    /// SHA-256 (hex) of every byte read so far: the whole file once the
    /// iterator is exhausted.
    pub fn digest(&self) -> String {
        self.reader.get_ref().hasher.hex()
    }

    fn cell(&self, column: usize) -> Option<&str> {
        self.index[column]
            .and_then(|i| self.record.get(i))
            .filter(|v| !v.is_empty())
    }

    fn row(&self, line: u64) -> Result<CsvRow, Vec<RowIssue>> {
        let mut issues = Vec::new();
        if self.record.len() != self.width {
            issues.push(RowIssue {
                line,
                field: "row".into(),
                rule: format!(
                    "has {} fields but the header has {}",
                    self.record.len(),
                    self.width
                ),
            });
            return Err(issues);
        }
        for (slot, name) in COLUMNS.iter().enumerate() {
            if let Some(value) = self.cell(slot)
                && value.trim() != value
            {
                issues.push(RowIssue {
                    line,
                    field: (*name).into(),
                    rule: "leading or trailing whitespace (would break the signature)".into(),
                });
            }
        }
        let get = |name: &str| {
            COLUMNS
                .iter()
                .position(|c| *c == name)
                .and_then(|slot| self.cell(slot))
                .map(str::to_owned)
        };
        let openid = get("openid").unwrap_or_default();
        let amount = get("amount").unwrap_or_default();
        if openid.is_empty() {
            issues.push(RowIssue {
                line,
                field: "openid".into(),
                rule: "required".into(),
            });
        }
        if amount.is_empty() {
            issues.push(RowIssue {
                line,
                field: "amount".into(),
                rule: "required".into(),
            });
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(CsvRow {
            line,
            openid,
            amount,
            bill: get("bill"),
            name: get("name"),
            texts: Texts {
                send_name: get("send_name"),
                act_name: get("act_name"),
                wishing: get("wishing"),
                remark: get("remark"),
                sender_name: get("sender_name"),
                agentid: get("agentid"),
                desc: get("desc"),
                scene_id: get("scene_id"),
                total_num: get("total_num"),
            },
            key: get("key"),
        })
    }
}

impl<R: Read> Iterator for CsvPayouts<R> {
    /// A row, the issues that make it invalid, or a fatal read error.
    type Item = Result<Result<CsvRow, Vec<RowIssue>>, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map(|p| p.line()).unwrap_or(0);
                Some(Ok(self.row(line)))
            }
            Err(err) => {
                let line = err.position().map(|p| p.line()).unwrap_or(0);
                match err.into_kind() {
                    csv::ErrorKind::Io(source) => {
                        self.failed = true;
                        Some(Err(InputError::Io {
                            path: self.path.clone(),
                            source,
                        }))
                    }
                    csv::ErrorKind::Utf8 { .. } => Some(Ok(Err(vec![RowIssue {
                        line,
                        field: "row".into(),
                        rule: "not valid UTF-8".into(),
                    }]))),
                    other => Some(Ok(Err(vec![RowIssue {
                        line,
                        field: "row".into(),
                        rule: format!("malformed CSV: {other:?}"),
                    }]))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<CsvRow, Vec<RowIssue>>> {
        CsvPayouts::new(text.as_bytes(), "t.csv")
            .expect("header")
            .map(|r| r.expect("no io error"))
            .collect()
    }

    #[test]
    fn reads_rows_with_line_numbers() {
        let rows = read("openid,amount,wishing\no1,1.00,Hi\n\"o2\",2.50,\n");
        let first = rows[0].as_ref().expect("valid");
        assert_eq!((first.line, first.openid.as_str()), (2, "o1"));
        assert_eq!(first.texts.wishing.as_deref(), Some("Hi"));
        let second = rows[1].as_ref().expect("valid");
        assert_eq!((second.line, second.texts.wishing.as_ref()), (3, None));
    }

    #[test]
    fn reports_missing_and_whitespace() {
        let rows = read("openid,amount\n,1.00\no2, 2.00\no3\n");
        let issues: Vec<String> = rows
            .iter()
            .flat_map(|r| r.as_ref().err().cloned().unwrap_or_default())
            .map(|i| i.to_string())
            .collect();
        assert_eq!(
            issues,
            vec![
                "line 2: openid: required",
                "line 3: amount: leading or trailing whitespace (would break the signature)",
                "line 4: row: has 1 fields but the header has 2",
            ]
        );
    }

    #[test]
    fn refuses_bad_headers() {
        assert!(CsvPayouts::new("openid,amout\n".as_bytes(), "t").is_err());
        assert!(CsvPayouts::new("openid\n".as_bytes(), "t").is_err());
        assert!(CsvPayouts::new("openid,amount,openid\n".as_bytes(), "t").is_err());
    }

    #[test]
    fn digest_covers_the_file() {
        let mut a = CsvPayouts::new("openid,amount\no1,1.00\n".as_bytes(), "a").expect("ok");
        while a.next().is_some() {}
        let mut b = CsvPayouts::new("openid,amount\no1,1.01\n".as_bytes(), "b").expect("ok");
        while b.next().is_some() {}
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 64);
    }
}

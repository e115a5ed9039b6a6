//! Reading batch files as spreadsheets write them: CSV (UTF-8 with or
//! without BOM, or GB18030/GBK as Excel saves it on Chinese Windows, LF or
//! CRLF line ends) and `.xlsx` workbooks (first sheet).
//!
//! Header: `openid`, `amount` (yuan, e.g. `1.00`), optional `bill`, `name`
//! (real name for `FORCE_CHECK`) and per-row overrides of the text fields
//! (`send_name`, `act_name`, `wishing`, `remark`, `sender_name`, `agentid`,
//! `desc`, `scene_id`, `total_num`), and `key`: the payout's idempotency key
//! in the ledger (default: batch, openid and the n-th occurrence of the
//! openid). Chinese headers are accepted as aliases
//! ([`ALIASES`], e.g. `金额` for `amount`); other columns are ignored with
//! one note ([`Payouts::notes`]); an empty trailing line, a row of empty
//! cells and a trailing comma are tolerated.
//!
//! CSV rows are read one at a time (memory does not grow with the file)
//! while the file's SHA-256 is computed on the way; the encoding is decided
//! by a first pass over the file (UTF-8 first; a file that is not UTF-8 is
//! accepted as GB18030 only if it decodes cleanly). Line numbers count the
//! file's own lines (CRLF or LF), the header being line 1.

use crate::config::Texts;
use std::collections::VecDeque;
use std::fmt;
use std::io::Read;
use std::path::Path;

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

/// Header aliases (as Chinese spreadsheets name the columns) and the column
/// each stands for. Matching ignores ASCII case and surrounding spaces.
pub const ALIASES: &[(&str, &str)] = &[
    ("收款人openid", "openid"),
    ("用户openid", "openid"),
    ("金额", "amount"),
    ("金额(元)", "amount"),
    ("金额（元）", "amount"),
    ("红包金额", "amount"),
    ("付款金额", "amount"),
    ("单号", "bill"),
    ("商户订单号", "bill"),
    ("姓名", "name"),
    ("真实姓名", "name"),
    ("收款人姓名", "name"),
    ("商户名称", "send_name"),
    ("活动名称", "act_name"),
    ("祝福语", "wishing"),
    ("备注", "remark"),
    ("发送者名称", "sender_name"),
    ("付款说明", "desc"),
    ("付款备注", "desc"),
    ("场景id", "scene_id"),
    ("红包个数", "total_num"),
];

/// The column a header cell names, if any: a [`COLUMNS`] name or an
/// [`ALIASES`] entry, ignoring ASCII case, a BOM and surrounding spaces.
pub fn column_of(header: &str) -> Option<&'static str> {
    let name = header.trim_start_matches('\u{feff}').trim();
    COLUMNS
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(name))
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
                .map(|(_, column)| *column)
        })
}

/// One data row, as text (validated later against the protocol rules).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsvRow {
    /// Line number in the file (the header is line 1); the sheet row of a
    /// workbook.
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

/// How many distinct rows the issues are about (a row may break several rules).
pub fn rows_with_issues(issues: &[RowIssue]) -> usize {
    issues
        .iter()
        .map(|i| i.line)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
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
    /// The file is text in an encoding we do not read.
    #[error(
        "{path}: encoding problem (not a problem with your data): the file is neither UTF-8 nor GB18030/GBK{detail}. Save it from Excel as \"CSV UTF-8 (Comma delimited) (*.csv)\" or as .xlsx, or convert it, e.g. `iconv -f GB18030 -t UTF-8 in.csv > out.csv`"
    )]
    Encoding {
        /// The file.
        path: String,
        /// Where decoding failed, or what the file looks like.
        detail: String,
    },
    /// The workbook could not be read.
    #[error("{path}: cannot read the workbook: {message}")]
    Workbook {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

impl InputError {
    /// Whether this is an I/O error (the file is missing or unreadable)
    /// rather than a problem with its contents.
    pub fn is_io(&self) -> bool {
        matches!(self, InputError::Io { .. })
    }
}

/// The text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// UTF-8, with or without a byte order mark.
    Utf8,
    /// GB18030 (a superset of GBK and GB2312), as Excel saves "CSV" on
    /// Chinese Windows.
    Gb18030,
}

/// Whether everything `source` yields is UTF-8 (read once, in chunks).
fn is_utf8(mut source: impl Read) -> std::io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = 0usize;
    loop {
        let n = source.read(&mut buf[carry..])?;
        let end = carry + n;
        match std::str::from_utf8(&buf[..end]) {
            Ok(_) if n == 0 => return Ok(true),
            Ok(_) => carry = 0,
            // An incomplete character at the end of a chunk: keep it for the next.
            Err(e) if e.error_len().is_none() && n > 0 => {
                carry = end - e.valid_up_to();
                buf.copy_within(e.valid_up_to()..end, 0);
            }
            Err(_) => return Ok(false),
        }
    }
}

/// Where `source` stops being clean GB18030: `(line, byte offset)`, or
/// `None` when all of it decodes without a replacement.
fn gb18030_error(mut source: impl Read) -> std::io::Result<Option<(u64, u64)>> {
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = vec![0u8; 256 * 1024];
    let (mut line, mut offset) = (1u64, 0u64);
    loop {
        let n = source.read(&mut buf)?;
        let mut src = &buf[..n];
        loop {
            let (result, read, _) =
                decoder.decode_to_utf8_without_replacement(src, &mut out, n == 0);
            if let encoding_rs::DecoderResult::Malformed(bad, after) = result {
                // The bad bytes end `after` bytes before `read`.
                let start = read.saturating_sub(usize::from(bad) + usize::from(after));
                line += src[..start].iter().filter(|b| **b == b'\n').count() as u64;
                return Ok(Some((line, offset + start as u64)));
            }
            line += src[..read].iter().filter(|b| **b == b'\n').count() as u64;
            offset += read as u64;
            src = &src[read..];
            if result == encoding_rs::DecoderResult::InputEmpty {
                break;
            }
        }
        if n == 0 {
            return Ok(None);
        }
    }
}

/// Decides a CSV file's encoding: UTF-8 if the whole file is valid UTF-8,
/// else GB18030 if the whole file decodes cleanly as GB18030, else an
/// [`InputError::Encoding`] saying so.
pub fn detect_encoding(path: &Path) -> Result<Encoding, InputError> {
    let name = path.display().to_string();
    let io = |source| InputError::Io {
        path: name.clone(),
        source,
    };
    let open = || {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .map_err(io)
    };
    let mut head = [0u8; 2];
    let got = open()?.read(&mut head).map_err(io)?;
    if got == 2 && (head == [0xFF, 0xFE] || head == [0xFE, 0xFF]) {
        return Err(InputError::Encoding {
            path: name.clone(),
            detail: " (it looks like UTF-16, Excel's \"Unicode Text\")".into(),
        });
    }
    if is_utf8(open()?).map_err(io)? {
        return Ok(Encoding::Utf8);
    }
    match gb18030_error(open()?).map_err(io)? {
        None => Ok(Encoding::Gb18030),
        Some((line, offset)) => Err(InputError::Encoding {
            path: name.clone(),
            detail: format!(" (undecodable bytes on line {line}, near byte {offset})"),
        }),
    }
}

/// The bytes under the CSV parser: hashes what it reads from the file,
/// decodes GB18030 to UTF-8 when asked, drops a UTF-8 BOM, and remembers
/// where the lines of the text it hands out start (the csv crate's own line
/// count is off by one per line with CRLF line ends).
struct Source<R> {
    inner: R,
    hasher: hongbao_sign::digest::Sha256,
    decoder: Option<encoding_rs::Decoder>,
    raw: Vec<u8>,
    decoded: Vec<u8>,
    start: usize,
    at_start: bool,
    eof: bool,
    /// Bytes handed out so far.
    offset: u64,
    /// Offsets (in the text handed out) just after each `\n` not yet
    /// passed by the parser; bounded by the parser's read-ahead.
    newlines: VecDeque<u64>,
    /// Newlines before the front of `newlines`.
    lines_before: u64,
}

impl<R: Read> Source<R> {
    fn new(inner: R, encoding: Encoding) -> Self {
        Source {
            inner,
            hasher: hongbao_sign::digest::Sha256::new(),
            decoder: (encoding == Encoding::Gb18030)
                .then(|| encoding_rs::GB18030.new_decoder_without_bom_handling()),
            raw: vec![0; 16 * 1024],
            decoded: Vec::with_capacity(64 * 1024),
            start: 0,
            at_start: true,
            eof: false,
            offset: 0,
            newlines: VecDeque::new(),
            lines_before: 0,
        }
    }

    /// The line (from 1) of a record the parser says starts at byte `at`.
    /// After a CRLF the parser ends the record at `\r` and reports the next
    /// one as starting at the `\n`: a newline right at `at` still belongs
    /// to the line before (no record starts with a newline).
    fn line_at(&mut self, at: u64) -> u64 {
        while self.newlines.front().is_some_and(|&nl| nl <= at + 1) {
            self.newlines.pop_front();
            self.lines_before += 1;
        }
        self.lines_before + 1
    }

    fn fill(&mut self) -> std::io::Result<()> {
        self.decoded.clear();
        self.start = 0;
        while self.decoded.is_empty() && !self.eof {
            let n = self.inner.read(&mut self.raw)?;
            self.hasher.update(&self.raw[..n]);
            self.eof = n == 0;
            match &mut self.decoder {
                None => self.decoded.extend_from_slice(&self.raw[..n]),
                Some(decoder) => {
                    let need = decoder
                        .max_utf8_buffer_length_without_replacement(n)
                        .unwrap_or(n * 4 + 16);
                    self.decoded.resize(need, 0);
                    let (result, read, written) = decoder.decode_to_utf8_without_replacement(
                        &self.raw[..n],
                        &mut self.decoded,
                        self.eof,
                    );
                    self.decoded.truncate(written);
                    if read != n || matches!(result, encoding_rs::DecoderResult::Malformed(..)) {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "the file is not clean GB18030 (it changed while being read?)",
                        ));
                    }
                }
            }
            if self.at_start && !self.decoded.is_empty() {
                self.at_start = false;
                if self.decoded.starts_with(b"\xEF\xBB\xBF") {
                    self.start = 3;
                }
            }
            if self.start >= self.decoded.len() {
                self.decoded.clear();
                self.start = 0;
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.start >= self.decoded.len() {
            self.fill()?;
        }
        let available = &self.decoded[self.start..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        for (i, byte) in available[..n].iter().enumerate() {
            if *byte == b'\n' {
                self.newlines.push_back(self.offset + i as u64 + 1);
            }
        }
        self.start += n;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Where each known column is in the header, and which are ignored.
#[derive(Debug, Clone)]
struct Columns {
    index: [Option<usize>; COLUMNS.len()],
    /// The number of header cells.
    width: usize,
    /// Header cells that name no column (empty ones included).
    ignored: Vec<usize>,
    /// One note about ignored columns, if any had a name.
    note: Option<String>,
}

impl Columns {
    fn from_header<'a>(
        cells: impl IntoIterator<Item = &'a str>,
        path: &str,
    ) -> Result<Self, InputError> {
        let header_err = |message: String| InputError::Header {
            path: path.to_owned(),
            message,
        };
        let mut index = [None; COLUMNS.len()];
        let mut ignored = Vec::new();
        let mut unknown = Vec::new();
        let mut width = 0;
        for (i, cell) in cells.into_iter().enumerate() {
            width = i + 1;
            let Some(column) = column_of(cell) else {
                ignored.push(i);
                let name = cell.trim_start_matches('\u{feff}').trim();
                if !name.is_empty() {
                    unknown.push(format!("{name:?}"));
                }
                continue;
            };
            let slot = COLUMNS.iter().position(|c| *c == column).unwrap_or(0);
            if index[slot].is_some() {
                return Err(header_err(format!(
                    "column {column:?} appears twice (header {cell:?} is one of its names)"
                )));
            }
            index[slot] = Some(i);
        }
        for required in ["openid", "amount"] {
            let present = COLUMNS
                .iter()
                .position(|c| *c == required)
                .is_some_and(|slot| index[slot].is_some());
            if !present {
                return Err(header_err(format!(
                    "missing required column {required:?} (known: {}; Chinese names: see `hongbao batch run --help`)",
                    COLUMNS.join(", ")
                )));
            }
        }
        let note = (!unknown.is_empty()).then(|| {
            format!(
                "{path}: ignored column(s) {} (known: {})",
                unknown.join(", "),
                COLUMNS.join(", ")
            )
        });
        Ok(Columns {
            index,
            width,
            ignored,
            note,
        })
    }

    /// The row made of `cells` (line `line`), or why it is invalid. `None`
    /// for a row whose cells are all empty (a blank line as Excel writes it).
    fn row(&self, cells: &[&str], line: u64) -> Option<Result<CsvRow, Vec<RowIssue>>> {
        if cells.iter().all(|c| c.is_empty()) {
            return None;
        }
        let row_issue = |rule: String| {
            Some(Err(vec![RowIssue {
                line,
                field: "row".into(),
                rule,
            }]))
        };
        if cells.len() > self.width && cells[self.width..].iter().any(|c| !c.is_empty()) {
            return row_issue(format!(
                "has {} fields but the header has {}",
                cells.len(),
                self.width
            ));
        }
        if cells.len() < self.width && (cells.len()..self.width).any(|i| !self.ignored.contains(&i))
        {
            return row_issue(format!(
                "has {} fields but the header has {}",
                cells.len(),
                self.width
            ));
        }
        let cell = |slot: usize| {
            self.index[slot]
                .and_then(|i| cells.get(i).copied())
                .filter(|v| !v.is_empty())
        };
        let mut issues = Vec::new();
        for (slot, name) in COLUMNS.iter().enumerate() {
            if let Some(value) = cell(slot)
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
                .and_then(cell)
                .map(str::to_owned)
        };
        let openid = get("openid").unwrap_or_default();
        let amount = get("amount").unwrap_or_default();
        for (field, value) in [("openid", &openid), ("amount", &amount)] {
            if value.is_empty() {
                issues.push(RowIssue {
                    line,
                    field: field.into(),
                    rule: "required".into(),
                });
            }
        }
        if !issues.is_empty() {
            return Some(Err(issues));
        }
        Some(Ok(CsvRow {
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
        }))
    }
}

/// One item of a batch file: a row, the issues that make it invalid, or a
/// fatal read error.
pub type Item = Result<Result<CsvRow, Vec<RowIssue>>, InputError>;

/// Iterator over the rows of a CSV batch file.
pub struct CsvPayouts<R: Read> {
    reader: csv::Reader<Source<R>>,
    columns: Columns,
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
    /// Reads the header of UTF-8 text; `path` is only used in messages.
    pub fn new(source: R, path: &str) -> Result<Self, InputError> {
        Self::with_encoding(source, path, Encoding::Utf8)
    }

    /// Reads the header of text in `encoding` (see [`detect_encoding`]).
    pub fn with_encoding(source: R, path: &str, encoding: Encoding) -> Result<Self, InputError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::None)
            .from_reader(Source::new(source, encoding));
        let header_err = |message: String| InputError::Header {
            path: path.to_owned(),
            message,
        };
        let headers = reader
            .headers()
            .map_err(|e| match e.into_kind() {
                csv::ErrorKind::Io(source) => InputError::Io {
                    path: path.to_owned(),
                    source,
                },
                csv::ErrorKind::Utf8 { .. } => InputError::Encoding {
                    path: path.to_owned(),
                    detail: " (in the header line)".into(),
                },
                other => header_err(format!("{other:?}")),
            })?
            .clone();
        let columns = Columns::from_header(headers.iter(), path)?;
        Ok(CsvPayouts {
            reader,
            columns,
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

    /// Notes about the file (ignored columns), to show once.
    pub fn notes(&self) -> Vec<String> {
        self.columns.note.iter().cloned().collect()
    }

    fn line_of(&mut self, position: Option<&csv::Position>) -> u64 {
        let byte = position.map_or(0, |p| p.byte());
        self.reader.get_mut().line_at(byte)
    }
}

impl<R: Read> Iterator for CsvPayouts<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {
                    let position = self.record.position().cloned();
                    let line = self.line_of(position.as_ref());
                    let cells: Vec<&str> = self.record.iter().collect();
                    match self.columns.row(&cells, line) {
                        Some(row) => return Some(Ok(row)),
                        None => continue,
                    }
                }
                Err(err) => {
                    let position = err.position().cloned();
                    let line = self.line_of(position.as_ref());
                    return match err.into_kind() {
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
                            rule:
                                "not valid UTF-8 (an encoding problem: save the file as CSV UTF-8)"
                                    .into(),
                        }]))),
                        other => Some(Ok(Err(vec![RowIssue {
                            line,
                            field: "row".into(),
                            rule: format!("malformed CSV: {other:?}"),
                        }]))),
                    };
                }
            }
        }
    }
}

/// The rows of the first sheet of an `.xlsx` workbook.
#[derive(Debug)]
pub struct SheetPayouts {
    rows: std::vec::IntoIter<(u64, Vec<Result<String, String>>)>,
    columns: Columns,
    digest: String,
}

/// A cell as text, or why it cannot be used (`Err`). Numbers are written
/// as they read (`12.5`); a number in the `bill` or `openid` column is
/// refused (Excel keeps only 15 digits of a number).
fn cell_text(cell: &calamine::Data, column: Option<&str>) -> Result<String, String> {
    use calamine::Data;
    let numeric_id = matches!(column, Some("bill" | "openid"));
    match cell {
        Data::Empty => Ok(String::new()),
        Data::String(s) => Ok(s.clone()),
        Data::Int(_) | Data::Float(_) if numeric_id => Err(
            "stored as a number, which Excel keeps to 15 digits only: format the column as Text and type the value again"
                .into(),
        ),
        Data::Int(i) => Ok(i.to_string()),
        Data::Float(f) => Ok(f.to_string()),
        Data::Bool(b) => Ok(b.to_string()),
        Data::DateTime(_) | Data::DateTimeIso(_) | Data::DurationIso(_) => {
            Err("a date or time, not text or a number".into())
        }
        Data::Error(e) => Err(format!("a formula error ({e})")),
    }
}

impl SheetPayouts {
    /// Reads the first sheet of the workbook `bytes` (the file `path`).
    pub fn from_bytes(bytes: Vec<u8>, path: &str) -> Result<Self, InputError> {
        use calamine::Reader;
        let mut hasher = hongbao_sign::digest::Sha256::new();
        hasher.update(&bytes);
        let digest = hasher.hex();
        let workbook_err = |message: String| InputError::Workbook {
            path: path.to_owned(),
            message,
        };
        let mut workbook: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
                .map_err(|e: calamine::XlsxError| workbook_err(e.to_string()))?;
        let range = workbook
            .worksheet_range_at(0)
            .ok_or_else(|| workbook_err("it has no sheet".into()))?
            .map_err(|e| workbook_err(e.to_string()))?;
        let first_row = u64::from(range.start().map_or(0, |(row, _)| row));
        let mut rows = range.rows().enumerate();
        let header: Vec<String> = match rows.next() {
            Some((_, cells)) => cells
                .iter()
                .map(|c| cell_text(c, None).unwrap_or_default())
                .collect(),
            None => Vec::new(),
        };
        let columns = Columns::from_header(header.iter().map(String::as_str), path)?;
        let column_at: Vec<Option<&str>> = (0..columns.width)
            .map(|i| {
                columns
                    .index
                    .iter()
                    .position(|x| *x == Some(i))
                    .map(|slot| COLUMNS[slot])
            })
            .collect();
        let data = rows
            .map(|(i, cells)| {
                let texts = cells
                    .iter()
                    .enumerate()
                    .map(|(c, cell)| cell_text(cell, column_at.get(c).copied().flatten()))
                    .collect();
                (first_row + i as u64 + 1, texts)
            })
            .collect::<Vec<_>>();
        Ok(SheetPayouts {
            rows: data.into_iter(),
            columns,
            digest,
        })
    }
}

impl Iterator for SheetPayouts {
    type Item = Item;

    fn next(&mut self) -> Option<Self::Item> {
        for (line, cells) in self.rows.by_ref() {
            let bad: Vec<RowIssue> = cells
                .iter()
                .enumerate()
                .filter_map(|(i, cell)| {
                    let rule = cell.as_ref().err()?;
                    let field = self
                        .columns
                        .index
                        .iter()
                        .position(|x| *x == Some(i))
                        .map_or_else(|| format!("column {}", i + 1), |s| COLUMNS[s].to_owned());
                    (!self.columns.ignored.contains(&i)).then(|| RowIssue {
                        line,
                        field,
                        rule: rule.clone(),
                    })
                })
                .collect();
            if !bad.is_empty() {
                return Some(Ok(Err(bad)));
            }
            let texts: Vec<&str> = cells.iter().map(|c| c.as_deref().unwrap_or("")).collect();
            if let Some(row) = self.columns.row(&texts, line) {
                return Some(Ok(row));
            }
        }
        None
    }
}

/// The rows of a batch file, CSV or workbook: see [`open`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Payouts {
    /// A CSV file.
    Csv(Box<CsvPayouts<std::io::BufReader<std::fs::File>>>),
    /// The first sheet of an `.xlsx` workbook.
    Sheet(Box<SheetPayouts>),
}

/// Whether `path` is read as a workbook: an `.xlsx`/`.xlsm` name, or a
/// file that starts like a ZIP archive.
fn is_workbook(path: &Path) -> bool {
    let by_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx") || e.eq_ignore_ascii_case("xlsm"));
    by_name
        || std::fs::File::open(path)
            .and_then(|mut f| {
                let mut magic = [0u8; 4];
                f.read_exact(&mut magic).map(|()| magic == *b"PK\x03\x04")
            })
            .unwrap_or(false)
}

/// Opens a batch file: a workbook by its name or contents, otherwise CSV in
/// the encoding [`detect_encoding`] finds. Returns the rows and the
/// encoding (`None` for a workbook).
pub fn open(path: &Path) -> Result<(Payouts, Option<Encoding>), InputError> {
    let name = path.display().to_string();
    let io = |source| InputError::Io {
        path: name.clone(),
        source,
    };
    if is_workbook(path) {
        let bytes = std::fs::read(path).map_err(io)?;
        return Ok((
            Payouts::Sheet(Box::new(SheetPayouts::from_bytes(bytes, &name)?)),
            None,
        ));
    }
    let encoding = detect_encoding(path)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let rows = CsvPayouts::with_encoding(std::io::BufReader::new(file), &name, encoding)?;
    Ok((Payouts::Csv(Box::new(rows)), Some(encoding)))
}

impl Payouts {
    /// SHA-256 (hex) of the file's bytes read so far (all of them once the
    /// iterator is exhausted).
    pub fn digest(&self) -> String {
        match self {
            Payouts::Csv(rows) => rows.digest(),
            Payouts::Sheet(rows) => rows.digest.clone(),
        }
    }

    /// Notes about the file (ignored columns), to show once.
    pub fn notes(&self) -> Vec<String> {
        match self {
            Payouts::Csv(rows) => rows.notes(),
            Payouts::Sheet(rows) => rows.columns.note.iter().cloned().collect(),
        }
    }
}

impl Iterator for Payouts {
    type Item = Item;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Payouts::Csv(rows) => rows.next(),
            Payouts::Sheet(rows) => rows.next(),
        }
    }
}

/// How many data rows (valid or not) a batch file holds: blank rows are
/// not counted. Planning puts every one of them either into the journal or
/// into the invalid list, so on a resumed batch the rows left out by
/// `--skip-invalid` are this count minus the journal's rows.
pub fn count_rows(path: &Path) -> Result<u64, InputError> {
    let (rows, _) = open(path)?;
    let mut count = 0;
    for row in rows {
        // A valid row or an invalid one: both are rows; only a read error stops.
        let _row_or_issues = row?;
        count += 1;
    }
    Ok(count)
}

/// Notes to show before a batch file is planned: its encoding when it is
/// not UTF-8, and the columns that will be ignored. Reads only the header
/// (and, for the encoding, the file).
pub fn notes(path: &Path) -> Result<Vec<String>, InputError> {
    let (rows, encoding) = open(path)?;
    let mut notes = Vec::new();
    if encoding == Some(Encoding::Gb18030) {
        notes.push(format!(
            "{}: not UTF-8; read as GB18030/GBK (as Excel saves CSV on Chinese Windows)",
            path.display()
        ));
    }
    notes.extend(rows.notes());
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_as(bytes: &[u8], encoding: Encoding) -> Vec<Result<CsvRow, Vec<RowIssue>>> {
        CsvPayouts::with_encoding(bytes, "t.csv", encoding)
            .expect("header")
            .map(|r| r.expect("no io error"))
            .collect()
    }

    fn read(text: &str) -> Vec<Result<CsvRow, Vec<RowIssue>>> {
        read_as(text.as_bytes(), Encoding::Utf8)
    }

    fn issues(rows: &[Result<CsvRow, Vec<RowIssue>>]) -> Vec<String> {
        rows.iter()
            .flat_map(|r| r.as_ref().err().cloned().unwrap_or_default())
            .map(|i| i.to_string())
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
        assert_eq!(
            issues(&rows),
            vec![
                "line 2: openid: required",
                "line 3: amount: leading or trailing whitespace (would break the signature)",
                "line 4: row: has 1 fields but the header has 2",
            ]
        );
    }

    #[test]
    fn crlf_line_numbers_count_the_files_lines() {
        // Quoted cell over two lines, then bad rows: each named by its own line.
        let text =
            "openid,amount,remark\r\no1,1.00,x\r\no2,,\"two\r\nlines\"\r\no3, 1,\r\n,1.00,\r\n";
        let rows = read(text);
        assert_eq!(
            issues(&rows),
            vec![
                "line 3: amount: required",
                "line 5: amount: leading or trailing whitespace (would break the signature)",
                "line 6: openid: required",
            ]
        );
        assert_eq!(rows[0].as_ref().map(|r| r.line).ok(), Some(2));
    }

    #[test]
    fn bom_trailing_comma_blank_rows_and_unknown_columns_are_tolerated() {
        let text = "\u{feff}openid,amount,部门,\no1,1.00,财务,\n,,,\n\no2,2.00,,\n";
        let mut payouts = CsvPayouts::new(text.as_bytes(), "t.csv").expect("header");
        assert_eq!(
            payouts.notes(),
            vec![
                "t.csv: ignored column(s) \"部门\" (known: openid, amount, bill, name, send_name, act_name, wishing, remark, sender_name, agentid, desc, scene_id, total_num, key)"
            ]
        );
        let rows: Vec<_> = payouts.by_ref().map(|r| r.expect("io")).collect();
        let lines: Vec<u64> = rows
            .iter()
            .map(|r| r.as_ref().expect("valid").line)
            .collect();
        assert_eq!(lines, vec![2, 5]);
    }

    #[test]
    fn chinese_headers_are_aliases() {
        let rows = read("收款人openid,金额,姓名,备注,单号\no1,1.00,张三,年终奖,B1\n");
        let row = rows[0].as_ref().expect("valid");
        assert_eq!(
            (
                row.openid.as_str(),
                row.amount.as_str(),
                row.name.as_deref()
            ),
            ("o1", "1.00", Some("张三"))
        );
        assert_eq!(row.texts.remark.as_deref(), Some("年终奖"));
        assert_eq!(row.bill.as_deref(), Some("B1"));
        for (alias, column) in ALIASES {
            assert!(COLUMNS.contains(column), "{alias} → {column}");
        }
    }

    #[test]
    fn gb18030_text_is_decoded() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("openid,金额,备注\r\no1,1.00,年终奖\r\n");
        let rows = read_as(&bytes, Encoding::Gb18030);
        let row = rows[0].as_ref().expect("valid");
        assert_eq!(row.texts.remark.as_deref(), Some("年终奖"));
        assert!(std::str::from_utf8(&bytes).is_err());
        assert_eq!(is_utf8(&bytes[..]).ok(), Some(false));
        assert_eq!(gb18030_error(&bytes[..]).ok(), Some(None));
        // Not GB18030 either: 0x80 is the euro sign there, 0xFF is never
        // valid; named by its line and byte offset.
        assert_eq!(gb18030_error(&b"ok\n\x80\xff"[..]).ok(), Some(Some((2, 4))));
    }

    #[test]
    fn utf8_check_handles_characters_split_across_chunks() {
        let mut text = "a".repeat(64 * 1024 - 1).into_bytes();
        text.extend_from_slice("金额".as_bytes());
        assert_eq!(is_utf8(&text[..]).ok(), Some(true));
        text.push(0xE9);
        assert_eq!(is_utf8(&text[..]).ok(), Some(false));
    }

    #[test]
    fn refuses_bad_headers() {
        assert!(CsvPayouts::new("openid,amout\n".as_bytes(), "t").is_err());
        assert!(CsvPayouts::new("openid\n".as_bytes(), "t").is_err());
        assert!(CsvPayouts::new("openid,amount,openid\n".as_bytes(), "t").is_err());
        assert!(CsvPayouts::new("openid,amount,金额\n".as_bytes(), "t").is_err());
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

    #[test]
    fn invalid_row_count_counts_rows_not_problems() {
        let rows = read("openid,amount\n,1.00\n, 1\no3,1.00\n");
        let all: Vec<RowIssue> = rows
            .iter()
            .flat_map(|r| r.as_ref().err().cloned().unwrap_or_default())
            .collect();
        assert_eq!((all.len(), rows_with_issues(&all)), (3, 2));
    }
}

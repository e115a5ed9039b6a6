//! What the binary prints and writes for people and spreadsheets: a stdout
//! that ends quietly when its reader goes away (`| head`), the sandbox
//! marking, and the per-row report as Excel opens it (CSV with a BOM and
//! ids kept as text, or `.xlsx`).

use crate::report::{CSV_HEADER, ReportError, cells, for_each_payout};
use hongbao_ledger::Store;
use std::io::Write;
use std::path::Path;

/// The line every sandbox run prints with its summary.
pub const SANDBOX_BANNER: &str = "SANDBOX — no real money moved";

/// Standard output that turns a closed pipe into silence: once the reader
/// is gone (`hongbao batch report | head`), every further write is dropped
/// and reported as done, so the command finishes its work (the journal is
/// never left half-written because nobody reads) and exits with its own
/// code, without a panic or an error message.
#[derive(Debug)]
pub struct Stdout {
    inner: std::io::StdoutLock<'static>,
    closed: bool,
}

/// The process's standard output, quiet on a closed pipe (see [`Stdout`]).
pub fn stdout() -> Stdout {
    Stdout {
        inner: std::io::stdout().lock(),
        closed: false,
    }
}

impl Stdout {
    fn quiet<T>(&mut self, result: std::io::Result<T>, done: T) -> std::io::Result<T> {
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            other => other,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.quiet(result, buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.quiet(result, ())
    }
}

/// Whether error messages and logs may use colour: stderr is a terminal
/// and `NO_COLOR` is not set.
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether the ledger was paid through a sandbox.
async fn is_sandbox(store: &dyn Store) -> Result<bool, ReportError> {
    Ok(store.binding().await?.is_some_and(|b| b.server.sandbox))
}

/// Columns holding ids that Excel must keep as text.
const ID_COLUMNS: [usize; 4] = [1, 3, 5, 11];

/// A cell for Excel's CSV import: an id that starts with a digit (bill
/// numbers, WeChat ids: 26–32 digits that Excel would turn into 1.00001E+25
/// and round; a generated bill such as `…1234E5` would even read as a
/// number in scientific notation) is written `="…"`, which Excel (and WPS)
/// shows as exactly that text. We chose this over a leading tab or
/// apostrophe: the tab becomes part of the value when copied or looked up,
/// and the apostrophe shows. Openids start with a letter and stay as they are.
fn excel_text(value: &str) -> String {
    if value.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && value.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        format!("=\"{value}\"")
    } else {
        value.to_owned()
    }
}

/// Writes the per-row report as a CSV file for Excel: UTF-8 with a BOM (so
/// that Excel on Chinese Windows does not read it as GBK), ids as text
/// (`="…"` for ids that start with a digit), and a last column `sandbox` (`true` for a journal
/// paid through a sandbox).
pub async fn write_excel_csv(
    store: &dyn Store,
    batch: Option<&str>,
    path: &Path,
) -> Result<(), ReportError> {
    let sandbox = is_sandbox(store).await?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv::Writer::from_writer(file);
    let mut header: Vec<&str> = CSV_HEADER.to_vec();
    header.push("sandbox");
    writer.write_record(&header)?;
    for_each_payout(store, batch, |row| {
        let mut cells = cells(row);
        for i in ID_COLUMNS {
            cells[i] = excel_text(&cells[i]);
        }
        let mut record: Vec<&str> = cells.iter().map(String::as_str).collect();
        record.push(if sandbox { "true" } else { "false" });
        writer.write_record(&record)?;
        Ok(())
    })
    .await?;
    writer.flush()?;
    Ok(())
}

/// Writes the per-row report as an `.xlsx` workbook: one sheet, every id
/// and text a string cell, amounts as numbers (yuan), a `sandbox` column.
pub async fn write_xlsx(
    store: &dyn Store,
    batch: Option<&str>,
    path: &Path,
) -> Result<(), ReportError> {
    use rust_xlsxwriter::Workbook;
    let xlsx_err = |e: rust_xlsxwriter::XlsxError| ReportError::Io(std::io::Error::other(e));
    let sandbox = is_sandbox(store).await?;
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let mut header: Vec<&str> = CSV_HEADER.to_vec();
    header.push("sandbox");
    for (col, name) in header.iter().enumerate() {
        sheet.write_string(0, col as u16, *name).map_err(xlsx_err)?;
    }
    let mut r: u32 = 0;
    for_each_payout(store, batch, |row| {
        r += 1;
        for (col, cell) in cells(row).iter().enumerate() {
            let col = col as u16;
            match col {
                0 | 8 => sheet.write_number(r, col, cell.parse::<f64>().unwrap_or(0.0)),
                2 => sheet.write_number(r, col, row.amount_fen as f64 / 100.0),
                _ => sheet.write_string(r, col, cell),
            }
            .map_err(xlsx_err)?;
        }
        sheet
            .write_boolean(r, header.len() as u16 - 1, sandbox)
            .map_err(xlsx_err)?;
        Ok(())
    })
    .await?;
    sheet.set_column_width(1, 32).map_err(xlsx_err)?;
    sheet.set_column_width(3, 34).map_err(xlsx_err)?;
    sheet.set_column_width(5, 34).map_err(xlsx_err)?;
    workbook.save(path).map_err(xlsx_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digit_ids_are_wrapped_for_excel() {
        assert_eq!(
            excel_text("10000098202401010000000001"),
            "=\"10000098202401010000000001\""
        );
        assert_eq!(
            excel_text("oxTWIuGaIt6gTKsQRLau2M0yL16E"),
            "oxTWIuGaIt6gTKsQRLau2M0yL16E"
        );
        assert_eq!(excel_text(""), "");
        assert_eq!(
            excel_text("1000009820261130Sbnb9CWjFi3J"),
            "=\"1000009820261130Sbnb9CWjFi3J\""
        );
        assert_eq!(excel_text("1.00"), "1.00");
    }
}

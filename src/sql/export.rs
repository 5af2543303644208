//! Query results written as CSV, JSON, JSON Lines or Parquet, batch by batch.

use std::io::Write;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::{Writer as CsvWriter, WriterBuilder as CsvWriterBuilder};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::{ArrayWriter, LineDelimitedWriter};
use datafusion::parquet::arrow::ArrowWriter;

use super::SqlError;
use crate::catalog::writer_properties;

/// A machine-readable result format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV with a header row.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Parquet (zstd); needs a file, not a terminal.
    Parquet,
}

/// The kind of the last I/O error of a [`Watched`] writer, shared with its [`ResultWriter`].
type LastError = Arc<Mutex<Option<std::io::ErrorKind>>>;

/// A writer that remembers the kind of its last I/O error: Arrow's writers turn I/O errors into
/// their own text (the CSV writer's "Csv error: Broken pipe"), and a closed pipe must stay one.
pub struct Watched<W: Write> {
    inner: W,
    failed: LastError,
}

impl<W: Write> Watched<W> {
    fn note<T>(&self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result
            && let Ok(mut failed) = self.failed.lock()
        {
            *failed = Some(e.kind());
        }
        result
    }
}

impl<W: Write> Write for Watched<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.inner.write(buf);
        self.note(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.inner.flush();
        self.note(result)
    }
}

/// An error of an Arrow writer as I/O of the kind the output last failed with.
fn error_of(failed: &LastError, message: String) -> SqlError {
    let kind = failed.lock().ok().and_then(|k| *k).unwrap_or(std::io::ErrorKind::Other);
    SqlError::Io(std::io::Error::new(kind, message))
}

enum Inner<W: Write + Send> {
    Csv(CsvWriter<Watched<W>>),
    Json(ArrayWriter<Watched<W>>),
    Jsonl(LineDelimitedWriter<Watched<W>>),
    Parquet(ArrowWriter<Watched<W>>),
}

/// Writes batches of one result in a format.
pub struct ResultWriter<W: Write + Send> {
    inner: Inner<W>,
    failed: LastError,
}

impl<W: Write + Send> ResultWriter<W> {
    /// A writer of `format` for a result with `schema`.
    pub fn new(format: ExportFormat, out: W, schema: &SchemaRef) -> Result<Self, SqlError> {
        let failed = LastError::default();
        let out = Watched { inner: out, failed: failed.clone() };
        let inner = match format {
            ExportFormat::Csv => Inner::Csv(CsvWriterBuilder::new().with_header(true).build(out)),
            ExportFormat::Json => Inner::Json(ArrayWriter::new(out)),
            ExportFormat::Jsonl => Inner::Jsonl(LineDelimitedWriter::new(out)),
            ExportFormat::Parquet => Inner::Parquet(
                ArrowWriter::try_new(out, schema.clone(), Some(writer_properties()))
                    .map_err(|e| SqlError::Io(std::io::Error::other(e.to_string())))?,
            ),
        };
        Ok(ResultWriter { inner, failed })
    }

    /// Writes one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SqlError> {
        let written = match &mut self.inner {
            Inner::Csv(w) => w.write(batch).map_err(|e| e.to_string()),
            Inner::Json(w) => w.write(batch).map_err(|e| e.to_string()),
            Inner::Jsonl(w) => w.write(batch).map_err(|e| e.to_string()),
            Inner::Parquet(w) => w.write(batch).map_err(|e| e.to_string()),
        };
        written.map_err(|e| error_of(&self.failed, e))
    }

    /// Ends the result (closes the JSON array, writes the Parquet footer) and flushes.
    pub fn finish(self) -> Result<(), SqlError> {
        let ResultWriter { inner, failed } = self;
        let finished: Result<Watched<W>, String> = match inner {
            Inner::Csv(w) => Ok(w.into_inner()),
            Inner::Json(mut w) => w.finish().map(|()| w.into_inner()).map_err(|e| e.to_string()),
            Inner::Jsonl(mut w) => w.finish().map(|()| w.into_inner()).map_err(|e| e.to_string()),
            Inner::Parquet(w) => w.into_inner().map_err(|e| e.to_string()),
        };
        let mut out = finished.map_err(|e| error_of(&failed, e))?;
        out.flush().map_err(SqlError::Io)
    }
}

/// Runs a statement in the session and returns its column names and rows as display text.
pub fn collect_text(
    session: &super::Session,
    sql: &str,
    options: &datafusion::arrow::util::display::FormatOptions<'_>,
) -> Result<(Vec<String>, Vec<Vec<String>>), SqlError> {
    let (schema, batches) = session.collect(sql)?;
    let header = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut rows = Vec::new();
    for batch in &batches {
        append_display_rows(batch, options, &mut rows, usize::MAX)?;
    }
    Ok((header, rows))
}

/// Appends a batch's rows as display strings (at most `limit` rows in all), formatted by `options`.
pub fn append_display_rows(
    batch: &RecordBatch,
    options: &datafusion::arrow::util::display::FormatOptions<'_>,
    rows: &mut Vec<Vec<String>>,
    limit: usize,
) -> Result<(), SqlError> {
    use datafusion::arrow::util::display::ArrayFormatter;
    let formatters: Vec<ArrayFormatter<'_>> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), options))
        .collect::<Result<_, _>>()
        .map_err(|e| SqlError::Engine(e.to_string()))?;
    for row in 0..batch.num_rows() {
        if rows.len() >= limit {
            break;
        }
        rows.push(formatters.iter().map(|f| f.value(row).to_string()).collect());
    }
    Ok(())
}

/// The calls of the current snapshot as the contract's `calls` file: analyst columns, with the
/// caller's phone, name, ID number, counterparty and narrative as given (the restricted table's).
const SOURCE_CALLS: &str = "SELECT c.call_id, c.platform, c.received_at, p.caller_phone, p.caller_name, \
     p.caller_id_number, c.address, c.district, c.grid_id, c.lon, c.lat, c.category, p.counterparty, \
     p.narrative, c.disposition, c.source_call_id FROM calls c JOIN calls_pii p ON p.call_id = c.call_id";

/// The work orders of the current snapshot as the contract's `work_orders` file.
const SOURCE_ORDERS: &str = "SELECT order_id, call_id, created_at, from_platform, to_platform, channel, department, \
     signed_at, feedback_at, closed_at, status, satisfaction, callback_at FROM work_orders";

/// Rows written by [`export_source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceExport {
    /// Calls written to `calls.csv`.
    pub calls: u64,
    /// Work orders written to `work_orders.csv`.
    pub work_orders: u64,
}

/// Writes the warehouse's accepted records back out as the data contract's CSV files
/// (`calls.csv`, `work_orders.csv` in `dir`, created 0600, never over existing files), with the raw
/// personal data of the restricted tables: what a new warehouse ingests under a new key when the
/// key is rotated. Needs an investigator's session; its statements are audited as any other.
/// Earlier versions of updated rows (the history tables) and quarantined records are not written.
pub fn export_source(session: &super::Session, dir: &std::path::Path) -> Result<SourceExport, SqlError> {
    use std::os::unix::fs::OpenOptionsExt;
    if session.role() != super::Role::Investigator {
        return Err(SqlError::Refused(
            "the source export writes raw personal data: it needs the investigator role".into(),
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| SqlError::Io(std::io::Error::new(e.kind(), format!("{}: {e}", dir.display()))))?;
    let mut counts = [0u64; 2];
    for ((name, sql), count) in
        [("calls.csv", SOURCE_CALLS), ("work_orders.csv", SOURCE_ORDERS)].into_iter().zip(&mut counts)
    {
        let path = dir.join(name);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| SqlError::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
        let mut writer: Option<ResultWriter<std::io::BufWriter<std::fs::File>>> = None;
        let mut header = String::new();
        let mut out = Some(std::io::BufWriter::new(file));
        session.run(sql, &mut |output| {
            match output {
                super::Output::Schema(schema) => {
                    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                    header = names.join(",");
                    if let Some(out) = out.take() {
                        writer = Some(ResultWriter::new(ExportFormat::Csv, out, schema)?);
                    }
                }
                super::Output::Batch(batch) => {
                    if let Some(writer) = writer.as_mut() {
                        writer.write(batch)?;
                        *count += batch.num_rows() as u64;
                    }
                }
            }
            Ok(super::Flow::More)
        })?;
        if let Some(writer) = writer {
            writer.finish()?;
        }
        // The CSV writer writes its header with the first rows; a table without rows still gets one.
        if *count == 0 {
            std::fs::write(&path, format!("{header}\n"))
                .map_err(|e| SqlError::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
        }
    }
    Ok(SourceExport { calls: counts[0], work_orders: counts[1] })
}

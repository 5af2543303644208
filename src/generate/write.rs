//! Writers of generated tables in the contract's file formats (CSV, JSON Lines, Parquet), each reporting the line of every row it writes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use crate::contract::timestamp::parse_timestamp;
use crate::contract::{ColumnType, Table};

/// Output formats of `generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// CSV with a header row.
    Csv,
    /// JSON Lines.
    Jsonl,
    /// Parquet (zstd).
    Parquet,
}

impl OutputFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Parquet => "parquet",
        }
    }
}

/// Errors while writing generated files.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// File-system failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Parquet or Arrow failure.
    #[error("{path}: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

const PARQUET_BATCH: usize = 65_536;

/// The contract schema with every column nullable: a malformed row may lack a required value,
/// and it is the reader's validator, not the file format, that must catch it.
fn file_schema(table: Table) -> Arc<datafusion::arrow::datatypes::Schema> {
    let fields: Vec<_> = table.input_schema().fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    Arc::new(datafusion::arrow::datatypes::Schema::new(fields))
}

/// An Arrow builder for one contract column: rows go straight into columns, with no per-row copies.
enum ColumnBuilder {
    Text(StringBuilder),
    Time(TimestampMicrosecondBuilder),
    Degrees(Float64Builder),
}

impl ColumnBuilder {
    fn new(ty: ColumnType) -> ColumnBuilder {
        match ty {
            ColumnType::Timestamp => {
                ColumnBuilder::Time(TimestampMicrosecondBuilder::with_capacity(PARQUET_BATCH).with_timezone("UTC"))
            }
            ColumnType::Degrees => ColumnBuilder::Degrees(Float64Builder::with_capacity(PARQUET_BATCH)),
            _ => ColumnBuilder::Text(StringBuilder::with_capacity(PARQUET_BATCH, PARQUET_BATCH * 16)),
        }
    }

    fn append(&mut self, value: Option<&str>) {
        match self {
            ColumnBuilder::Text(b) => b.append_option(value),
            ColumnBuilder::Time(b) => b.append_option(value.and_then(parse_timestamp)),
            ColumnBuilder::Degrees(b) => b.append_option(value.and_then(|v| v.parse().ok())),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish()),
            ColumnBuilder::Degrees(b) => Arc::new(b.finish()),
        }
    }
}

enum Sink {
    Csv(csv::Writer<BufWriter<File>>),
    Jsonl(BufWriter<File>),
    Parquet { writer: ArrowWriter<File>, columns: Vec<ColumnBuilder>, buffered: usize },
}

/// Writes one table to one file.
pub struct TableWriter {
    table: Table,
    path: PathBuf,
    sink: Option<Sink>,
    rows: u64,
}

impl TableWriter {
    /// Creates `dir/<table>.<ext>`.
    pub fn create(dir: &Path, table: Table, format: OutputFormat) -> Result<TableWriter, WriteError> {
        let path = dir.join(format!("{}.{}", table.name(), format.extension()));
        let io = |source| WriteError::Io { path: path.clone(), source };
        let file = File::create(&path).map_err(io)?;
        let sink = match format {
            OutputFormat::Csv => {
                let mut writer =
                    csv::WriterBuilder::new().flexible(true).from_writer(BufWriter::with_capacity(1 << 20, file));
                writer
                    .write_record(table.columns().iter().map(|c| c.name))
                    .map_err(|e| WriteError::Io { path: path.clone(), source: e.into() })?;
                Sink::Csv(writer)
            }
            OutputFormat::Jsonl => Sink::Jsonl(BufWriter::with_capacity(1 << 20, file)),
            OutputFormat::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(
                        ZstdLevel::try_new(3)
                            .map_err(|e| WriteError::Parquet { path: path.clone(), message: e.to_string() })?,
                    ))
                    .set_max_row_group_row_count(Some(128 * 1024))
                    .build();
                let writer = ArrowWriter::try_new(file, file_schema(table), Some(properties))
                    .map_err(|e| WriteError::Parquet { path: path.clone(), message: e.to_string() })?;
                let columns = table.columns().iter().map(|c| ColumnBuilder::new(c.ty)).collect();
                Sink::Parquet { writer, columns, buffered: 0 }
            }
        };
        Ok(TableWriter { table, path, sink: Some(sink), rows: 0 })
    }

    /// The line the next row will have: CSV counts the header as line 1; JSON Lines and Parquet start at 1.
    pub fn next_line(&self) -> u64 {
        match self.sink {
            Some(Sink::Csv(_)) => self.rows + 2,
            _ => self.rows + 1,
        }
    }

    /// Writes a row whose fields are in contract order; returns its line.
    pub fn write(&mut self, fields: &[Option<String>]) -> Result<u64, WriteError> {
        self.write_inner(fields, false)
    }

    /// Writes a deliberately unreadable record (an extra CSV field, a cut-off JSON line); returns its line.
    /// Parquet has no such record; the caller must not ask for one.
    pub fn write_unreadable(&mut self, fields: &[Option<String>]) -> Result<u64, WriteError> {
        self.write_inner(fields, true)
    }

    fn write_inner(&mut self, fields: &[Option<String>], unreadable: bool) -> Result<u64, WriteError> {
        let line = self.next_line();
        let path = &self.path;
        let io = |source: std::io::Error| WriteError::Io { path: path.clone(), source };
        match self.sink.as_mut() {
            Some(Sink::Csv(writer)) => {
                let mut record: Vec<&str> = fields.iter().map(|f| f.as_deref().unwrap_or("")).collect();
                if unreadable {
                    record.push("多余字段");
                }
                writer.write_record(&record).map_err(|e| io(e.into()))?;
            }
            Some(Sink::Jsonl(out)) => {
                let mut object = serde_json::Map::new();
                for (column, value) in self.table.columns().iter().zip(fields) {
                    let json = match (value, column.ty) {
                        (None, _) => serde_json::Value::Null,
                        (Some(v), ColumnType::Degrees) => v
                            .parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map_or_else(|| serde_json::Value::String(v.clone()), serde_json::Value::Number),
                        (Some(v), _) => serde_json::Value::String(v.clone()),
                    };
                    object.insert(column.name.to_owned(), json);
                }
                let mut text = serde_json::to_string(&object).map_err(|e| io(e.into()))?;
                if unreadable {
                    let mut cut = text.len() / 2;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                }
                out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(io)?;
            }
            Some(Sink::Parquet { columns, buffered, .. }) => {
                for (column, value) in columns.iter_mut().zip(fields) {
                    column.append(value.as_deref());
                }
                *buffered += 1;
                if *buffered >= PARQUET_BATCH {
                    self.flush_parquet()?;
                }
            }
            None => {}
        }
        self.rows += 1;
        Ok(line)
    }

    fn flush_parquet(&mut self) -> Result<(), WriteError> {
        let Some(Sink::Parquet { writer, columns, buffered }) = self.sink.as_mut() else {
            return Ok(());
        };
        if *buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = columns.iter_mut().map(ColumnBuilder::finish).collect();
        let path = self.path.clone();
        let fail = |e: &dyn std::fmt::Display| WriteError::Parquet { path: path.clone(), message: e.to_string() };
        let batch = RecordBatch::try_new(file_schema(self.table), arrays).map_err(|e| fail(&e))?;
        writer.write(&batch).map_err(|e| fail(&e))?;
        *buffered = 0;
        Ok(())
    }

    /// Flushes and closes the file; returns rows written.
    pub fn finish(mut self) -> Result<u64, WriteError> {
        self.flush_parquet()?;
        let path = self.path.clone();
        let io = |source: std::io::Error| WriteError::Io { path: path.clone(), source };
        match self.sink.take() {
            Some(Sink::Csv(writer)) => {
                let inner = writer.into_inner().map_err(|e| io(std::io::Error::other(e.to_string())))?;
                let file = inner.into_inner().map_err(|e| io(e.into_error()))?;
                file.sync_all().map_err(io)?;
            }
            Some(Sink::Jsonl(out)) => {
                let file = out.into_inner().map_err(|e| io(e.into_error()))?;
                file.sync_all().map_err(io)?;
            }
            Some(Sink::Parquet { writer, .. }) => {
                let file = writer
                    .into_inner()
                    .map_err(|e| WriteError::Parquet { path: path.clone(), message: e.to_string() })?;
                file.sync_all().map_err(io)?;
            }
            None => {}
        }
        Ok(self.rows)
    }
}

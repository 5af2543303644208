//! The warehouse catalogue: every table's columns (one submodule per stage that writes them), and
//! rows as plain values converted to and from Arrow / Parquet. The SQL session registers every
//! table from here, so it imports no stage; stages import their table definitions from here.

pub mod hotspot;
pub mod ingest;
pub mod link;
pub mod resolve;
pub mod review;
pub mod schedule;

pub use ingest::{
    CALLER_CALLS, CALLS, CALLS_PII, INGEST_BATCHES, INGEST_FILES, QUARANTINE, QUARANTINE_PII, WORK_ORDERS,
};

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int64Builder, LargeStringArray, RecordBatch, StringArray,
    StringBuilder, StringViewArray, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;

/// The kind of a warehouse column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text.
    Text,
    /// UTC instant, microseconds.
    Time,
    /// 64-bit float.
    Float,
    /// 64-bit integer.
    Int,
    /// Boolean.
    Bool,
}

/// One value of a row (every column may be null).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Text(Option<String>),
    /// UTC microseconds.
    Time(Option<i64>),
    /// Float.
    Float(Option<f64>),
    /// Integer.
    Int(Option<i64>),
    /// Boolean.
    Bool(Option<bool>),
}

impl Value {
    /// The text, if this is non-null text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => t.as_deref(),
            _ => None,
        }
    }

    /// The instant, if this is a non-null time.
    pub fn time(&self) -> Option<i64> {
        match self {
            Value::Time(t) => *t,
            _ => None,
        }
    }
}

/// A row: one value per column of its table.
pub type Row = Vec<Value>;

/// A warehouse table written by ingest.
#[derive(Debug)]
pub struct TableDef {
    /// Folder name.
    pub name: &'static str,
    /// Columns, in order.
    pub columns: &'static [(&'static str, Kind)],
    /// Position of the key column, for keyed tables.
    pub key: Option<usize>,
    /// Position of the time column that partitions (by Asia/Shanghai month) and sorts the files.
    pub time: Option<usize>,
    /// Whether the table holds personal data (investigator role only).
    pub restricted: bool,
}

/// A column read as text that holds another type.
#[derive(Debug, thiserror::Error)]
#[error("expected a text column, found {0}")]
pub struct NotText(pub DataType);

/// What can go wrong while building, writing or reading the rows of a warehouse table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A row held a value of another kind than its column.
    #[error("column {column}: value of the wrong kind")]
    WrongKind {
        /// The column.
        column: &'static str,
    },
    /// A row held more or fewer values than the table has columns.
    #[error("{given} values for {columns} columns")]
    WrongCount {
        /// Values given.
        given: usize,
        /// Columns of the table.
        columns: usize,
    },
    /// A file or folder could not be created, opened or synced.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Parquet could not read or write a file.
    #[error("{}: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ParquetError,
    },
    /// Arrow refused a file's columns or rows.
    #[error("{}: {source}", path.display())]
    Arrow {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ArrowError,
    },
    /// Arrow refused rows built in memory.
    #[error(transparent)]
    Batch(#[from] ArrowError),
    /// A file's column is not of its table's type.
    #[error("{}: column {column} has type {found}", path.display())]
    ColumnType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The type it has.
        found: DataType,
    },
    /// A file that is not one of this table's (its columns differ, or its key column is missing).
    #[error("{}: not a file of this table ({reason})", path.display())]
    Foreign {
        /// The file.
        path: PathBuf,
        /// How it differs.
        reason: String,
    },
}

/// An error that happened on a file, told with the file's path.
pub trait OnFile {
    /// The error as a [`TableError`] on `path`.
    fn on(self, path: &Path) -> TableError;
}

impl OnFile for std::io::Error {
    fn on(self, path: &Path) -> TableError {
        TableError::Io { path: path.to_owned(), source: self }
    }
}

impl OnFile for ParquetError {
    fn on(self, path: &Path) -> TableError {
        TableError::Parquet { path: path.to_owned(), source: self }
    }
}

impl OnFile for ArrowError {
    fn on(self, path: &Path) -> TableError {
        TableError::Arrow { path: path.to_owned(), source: self }
    }
}

impl TableError {
    /// An I/O error on `path`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TableError + '_ {
        move |source| TableError::Io { path: path.to_owned(), source }
    }

    /// A Parquet error on `path`.
    pub fn parquet(path: &Path) -> impl FnOnce(ParquetError) -> TableError + '_ {
        move |source| TableError::Parquet { path: path.to_owned(), source }
    }

    /// An Arrow error on `path`.
    pub fn arrow(path: &Path) -> impl FnOnce(ArrowError) -> TableError + '_ {
        move |source| TableError::Arrow { path: path.to_owned(), source }
    }
}

/// A text column as Arrow delivers it (DataFusion reads text as views; files hold plain UTF-8).
pub enum TextColumn<'a> {
    /// Utf8View.
    View(&'a StringViewArray),
    /// Utf8.
    Plain(&'a StringArray),
    /// LargeUtf8.
    Large(&'a LargeStringArray),
}

impl<'a> TextColumn<'a> {
    /// The column, or an error naming its type when it is not text.
    pub fn of(array: &'a ArrayRef) -> Result<TextColumn<'a>, NotText> {
        match array.data_type() {
            DataType::Utf8View => Ok(TextColumn::View(array.as_string_view())),
            DataType::Utf8 => Ok(TextColumn::Plain(array.as_string::<i32>())),
            DataType::LargeUtf8 => Ok(TextColumn::Large(array.as_string::<i64>())),
            other => Err(NotText(other.clone())),
        }
    }

    /// The value of a row, `None` when null.
    pub fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            TextColumn::View(a) => (!a.is_null(row)).then(|| a.value(row)),
            TextColumn::Plain(a) => (!a.is_null(row)).then(|| a.value(row)),
            TextColumn::Large(a) => (!a.is_null(row)).then(|| a.value(row)),
        }
    }
}

/// Every table of the warehouse, in pipeline order: ingest, resolve, link, hotspots, scheduler.
/// Keyed tables (a key and a month column) also have a `_history` table of superseded rows.
pub fn tables() -> Vec<&'static TableDef> {
    let mut all: Vec<&'static TableDef> = vec![
        &CALLS,
        &CALLS_PII,
        &WORK_ORDERS,
        &QUARANTINE,
        &QUARANTINE_PII,
        &INGEST_BATCHES,
        &INGEST_FILES,
        &CALLER_CALLS,
    ];
    all.extend(resolve::RESOLVE_TABLES);
    all.extend(link::LINK_TABLES);
    all.extend([&hotspot::HOTSPOT_CELLS, &hotspot::ENTITY_HOTSPOTS, &schedule::REPORT_RUNS, &review::LEAD_REVIEWS]);
    all
}

/// Whether a table keeps superseded rows in `NAME_history` and is partitioned by month.
pub fn is_keyed(def: &TableDef) -> bool {
    def.key.is_some() && def.time.is_some()
}

/// Whether a table's folder holds month partitions (`month=YYYY-MM`): the keyed tables, and
/// tables with a time column but no key (rewritten by month, with no history).
pub fn is_partitioned(def: &TableDef) -> bool {
    def.time.is_some()
}

/// What a table (or a `_history` table) holds, for `\d` in the SQL shell.
pub fn about(name: &str) -> &'static str {
    let stage = ingest::about(name)
        .or_else(|| resolve::about(name))
        .or_else(|| link::about(name))
        .or_else(|| hotspot::about(name))
        .or_else(|| schedule::about(name))
        .or_else(|| review::about(name));
    stage.unwrap_or_default()
}

use Kind::{Bool, Float, Int, Text, Time};

/// Superseded versions of a keyed table's rows: its columns plus when and by which batch.
pub fn history_columns(def: &TableDef) -> Vec<(&'static str, Kind)> {
    let mut columns = def.columns.to_vec();
    columns.push(("superseded_by", Text));
    columns
}

/// The Arrow schema of a column list.
pub fn schema(columns: &[(&'static str, Kind)]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, kind)| {
            let ty = match kind {
                Text => DataType::Utf8,
                Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                Float => DataType::Float64,
                Int => DataType::Int64,
                Bool => DataType::Boolean,
            };
            Field::new(*name, ty, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Rows as an Arrow batch.
pub fn to_batch(columns: &[(&'static str, Kind)], rows: &[&Row]) -> Result<RecordBatch, TableError> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, (name, kind)) in columns.iter().enumerate() {
        let mismatch = || TableError::WrongKind { column: name };
        let array: ArrayRef = match kind {
            Text => {
                let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
                for row in rows {
                    match &row[i] {
                        Value::Text(v) => b.append_option(v.as_deref()),
                        _ => return Err(mismatch()),
                    }
                }
                Arc::new(b.finish())
            }
            Time => {
                let mut b = TimestampMicrosecondBuilder::with_capacity(rows.len()).with_timezone("UTC");
                for row in rows {
                    match &row[i] {
                        Value::Time(v) => b.append_option(*v),
                        _ => return Err(mismatch()),
                    }
                }
                Arc::new(b.finish())
            }
            Float => {
                let mut b = Float64Builder::with_capacity(rows.len());
                for row in rows {
                    match &row[i] {
                        Value::Float(v) => b.append_option(*v),
                        _ => return Err(mismatch()),
                    }
                }
                Arc::new(b.finish())
            }
            Int => {
                let mut b = Int64Builder::with_capacity(rows.len());
                for row in rows {
                    match &row[i] {
                        Value::Int(v) => b.append_option(*v),
                        _ => return Err(mismatch()),
                    }
                }
                Arc::new(b.finish())
            }
            Bool => {
                let mut b = BooleanBuilder::with_capacity(rows.len());
                for row in rows {
                    match &row[i] {
                        Value::Bool(v) => b.append_option(*v),
                        _ => return Err(mismatch()),
                    }
                }
                Arc::new(b.finish())
            }
        };
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(schema(columns), arrays)?)
}

/// One value to append to a [`BatchBuilder`], borrowed (no allocation per value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Text.
    Text(Option<&'a str>),
    /// UTC microseconds.
    Time(Option<i64>),
    /// Float.
    Float(Option<f64>),
    /// Integer.
    Int(Option<i64>),
    /// Boolean.
    Bool(Option<bool>),
}

enum ColumnBuilder {
    Text(StringBuilder),
    Time(TimestampMicrosecondBuilder),
    Float(Float64Builder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
}

/// Builds Arrow batches of a column list row by row, column-wise in memory.
pub struct BatchBuilder {
    columns: &'static [(&'static str, Kind)],
    builders: Vec<ColumnBuilder>,
    rows: usize,
}

impl BatchBuilder {
    /// An empty builder.
    pub fn new(columns: &'static [(&'static str, Kind)]) -> Self {
        let builders = columns
            .iter()
            .map(|(_, kind)| match kind {
                Text => ColumnBuilder::Text(StringBuilder::new()),
                Time => ColumnBuilder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
                Float => ColumnBuilder::Float(Float64Builder::new()),
                Int => ColumnBuilder::Int(Int64Builder::new()),
                Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            })
            .collect();
        BatchBuilder { columns, builders, rows: 0 }
    }

    /// Rows appended since the last [`BatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is waiting.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one row; the cells must match the columns in number and kind.
    pub fn push(&mut self, cells: &[Cell<'_>]) -> Result<(), TableError> {
        if cells.len() != self.builders.len() {
            return Err(TableError::WrongCount { given: cells.len(), columns: self.builders.len() });
        }
        // Kinds are checked before anything is appended, so a bad row leaves the columns aligned.
        for ((builder, cell), (name, _)) in self.builders.iter().zip(cells).zip(self.columns) {
            let fits = matches!(
                (builder, cell),
                (ColumnBuilder::Text(_), Cell::Text(_))
                    | (ColumnBuilder::Time(_), Cell::Time(_))
                    | (ColumnBuilder::Float(_), Cell::Float(_))
                    | (ColumnBuilder::Int(_), Cell::Int(_))
                    | (ColumnBuilder::Bool(_), Cell::Bool(_))
            );
            if !fits {
                return Err(TableError::WrongKind { column: name });
            }
        }
        for (builder, cell) in self.builders.iter_mut().zip(cells) {
            match (builder, *cell) {
                (ColumnBuilder::Text(b), Cell::Text(v)) => b.append_option(v),
                (ColumnBuilder::Time(b), Cell::Time(v)) => b.append_option(v),
                (ColumnBuilder::Float(b), Cell::Float(v)) => b.append_option(v),
                (ColumnBuilder::Int(b), Cell::Int(v)) => b.append_option(v),
                (ColumnBuilder::Bool(b), Cell::Bool(v)) => b.append_option(v),
                _ => unreachable!("kinds were checked above"),
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows appended so far as a batch; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, TableError> {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|builder| -> ArrayRef {
                match builder {
                    ColumnBuilder::Text(b) => Arc::new(b.finish()),
                    ColumnBuilder::Time(b) => Arc::new(b.finish()),
                    ColumnBuilder::Float(b) => Arc::new(b.finish()),
                    ColumnBuilder::Int(b) => Arc::new(b.finish()),
                    ColumnBuilder::Bool(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(schema(self.columns), arrays)?)
    }
}

impl Value {
    /// The value as a cell to append.
    pub fn cell(&self) -> Cell<'_> {
        match self {
            Value::Text(v) => Cell::Text(v.as_deref()),
            Value::Time(v) => Cell::Time(*v),
            Value::Float(v) => Cell::Float(*v),
            Value::Int(v) => Cell::Int(*v),
            Value::Bool(v) => Cell::Bool(*v),
        }
    }
}

/// Warehouse Parquet settings: zstd, row groups of 128k rows (large enough to scan fast, small
/// enough that a month of calls has several to prune and parallelise over).
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(128 * 1024))
        .build()
}

/// A Parquet file written batch by batch, created on the first row (an empty table writes no file).
pub struct ParquetAppender {
    path: std::path::PathBuf,
    columns: &'static [(&'static str, Kind)],
    builder: BatchBuilder,
    writer: Option<ArrowWriter<File>>,
}

impl ParquetAppender {
    /// An appender that will create `path`.
    pub fn new(path: std::path::PathBuf, columns: &'static [(&'static str, Kind)]) -> Self {
        ParquetAppender { path, columns, builder: BatchBuilder::new(columns), writer: None }
    }

    /// Appends a row, writing a batch out every 8,192 rows.
    pub fn push(&mut self, cells: &[Cell<'_>]) -> Result<(), TableError> {
        self.builder.push(cells)?;
        if self.builder.len() >= 8192 { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), TableError> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let batch = self.builder.finish()?;
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let file = File::create(&self.path).map_err(TableError::io(&self.path))?;
                let writer = ArrowWriter::try_new(file, schema(self.columns), Some(writer_properties()))
                    .map_err(TableError::parquet(&self.path))?;
                self.writer.insert(writer)
            }
        };
        writer.write(&batch).map_err(TableError::parquet(&self.path))
    }

    /// Writes what is left and closes the file; returns whether a file was written.
    pub fn finish(mut self) -> Result<bool, TableError> {
        self.flush()?;
        match self.writer.take() {
            Some(writer) => {
                writer.close().map_err(TableError::parquet(&self.path))?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Writes rows to a new Parquet file (zstd, row groups of 128k rows).
pub fn write_parquet(path: &Path, columns: &[(&'static str, Kind)], rows: &[&Row]) -> Result<(), TableError> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(TableError::parquet(path))?))
        .set_max_row_group_row_count(Some(128 * 1024))
        .build();
    let file = File::create(path).map_err(TableError::io(path))?;
    let mut writer =
        ArrowWriter::try_new(file, schema(columns), Some(properties)).map_err(TableError::parquet(path))?;
    for chunk in rows.chunks(64 * 1024) {
        writer.write(&to_batch(columns, chunk)?).map_err(TableError::parquet(path))?;
    }
    let file = writer.into_inner().map_err(TableError::parquet(path))?;
    file.sync_all().map_err(TableError::io(path))
}

/// Reads every row of a Parquet file written by [`write_parquet`] with the same columns.
/// The non-null values of one text column of a warehouse Parquet file; none when the file has no
/// such column (it was written before the table gained it).
pub fn read_text_column(path: &Path, column: &str) -> Result<Vec<String>, TableError> {
    let mut out = Vec::new();
    each_text_batch(path, column, &mut |values, rows| {
        out.extend((0..rows).filter_map(|r| values.get(r).map(str::to_owned)));
        true
    })?;
    Ok(out)
}

/// Hands each batch of one text column of a warehouse Parquet file (only that column is read) to
/// `each` with its row count, while `each` says go on; a file without the column has no batches.
fn each_text_batch(
    path: &Path,
    column: &str,
    each: &mut dyn FnMut(&TextColumn<'_>, usize) -> bool,
) -> Result<(), TableError> {
    use datafusion::parquet::arrow::ProjectionMask;
    let file = File::open(path).map_err(TableError::io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(TableError::parquet(path))?;
    let Some(at) = builder.schema().fields().iter().position(|f| f.name() == column) else {
        return Ok(());
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [at]);
    let reader = builder.with_projection(mask).build().map_err(TableError::parquet(path))?;
    for batch in reader {
        let batch = batch.map_err(TableError::arrow(path))?;
        if !each(&text_column(path, column, batch.column(0))?, batch.num_rows()) {
            break;
        }
    }
    Ok(())
}

/// Whether any row of a warehouse Parquet file has a value of the text `column` that `hit` picks
/// (only that column is read; a file without it has none).
pub fn any_text(path: &Path, column: &str, hit: &dyn Fn(&str) -> bool) -> Result<bool, TableError> {
    let mut found = false;
    each_text_batch(path, column, &mut |values, rows| {
        found = (0..rows).any(|r| values.get(r).is_some_and(hit));
        !found
    })?;
    Ok(found)
}

/// Copies a warehouse Parquet file to `to` without the rows whose text `column` `drop` picks,
/// batch by batch, in the file's own schema and the warehouse's writer settings; returns the
/// number of rows left out. Nothing is written when no row is left.
pub fn copy_without(from: &Path, to: &Path, column: &str, drop: &dyn Fn(&str) -> bool) -> Result<u64, TableError> {
    use datafusion::arrow::array::BooleanArray;
    use datafusion::arrow::compute::filter_record_batch;
    let file = File::open(from).map_err(TableError::io(from))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(TableError::parquet(from))?;
    let schema = builder.schema().clone();
    let at = schema
        .fields()
        .iter()
        .position(|f| f.name() == column)
        .ok_or_else(|| TableError::Foreign { path: from.to_owned(), reason: format!("no {column} column") })?;
    let reader = builder.build().map_err(TableError::parquet(from))?;
    let mut writer: Option<ArrowWriter<File>> = None;
    let mut dropped = 0u64;
    for batch in reader {
        let batch = batch.map_err(TableError::arrow(from))?;
        let values = text_column(from, column, batch.column(at))?;
        let keep: BooleanArray = (0..batch.num_rows()).map(|r| Some(!values.get(r).is_some_and(drop))).collect();
        dropped += keep.false_count() as u64;
        let kept = filter_record_batch(&batch, &keep).map_err(TableError::arrow(from))?;
        if kept.num_rows() == 0 {
            continue;
        }
        let writer = match &mut writer {
            Some(writer) => writer,
            None => {
                let file = File::create(to).map_err(TableError::io(to))?;
                let created = ArrowWriter::try_new(file, schema.clone(), Some(writer_properties()))
                    .map_err(TableError::parquet(to))?;
                writer.insert(created)
            }
        };
        writer.write(&kept).map_err(TableError::parquet(to))?;
    }
    if let Some(writer) = writer {
        writer.close().map_err(TableError::parquet(to))?;
    }
    Ok(dropped)
}

fn text_column<'a>(path: &Path, column: &str, array: &'a ArrayRef) -> Result<TextColumn<'a>, TableError> {
    TextColumn::of(array).map_err(|e| TableError::ColumnType {
        path: path.to_owned(),
        column: column.to_owned(),
        found: e.0,
    })
}

/// Every row of a warehouse Parquet file of these columns.
pub fn read_parquet(path: &Path, columns: &[(&'static str, Kind)]) -> Result<Vec<Row>, TableError> {
    let file = File::open(path).map_err(TableError::io(path))?;
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(TableError::parquet(path))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(TableError::arrow(path))?;
        if batch.num_columns() != columns.len() {
            return Err(TableError::Foreign {
                path: path.to_owned(),
                reason: format!("{} columns where {} are expected", batch.num_columns(), columns.len()),
            });
        }
        let start = rows.len();
        rows.resize_with(start + batch.num_rows(), || Vec::with_capacity(columns.len()));
        for (i, (name, kind)) in columns.iter().enumerate() {
            let array = batch.column(i);
            let wrong = || TableError::ColumnType {
                path: path.to_owned(),
                column: (*name).to_owned(),
                found: array.data_type().clone(),
            };
            for (r, row) in rows[start..].iter_mut().enumerate() {
                let null = array.is_null(r);
                let value = match kind {
                    Text => Value::Text(
                        (!null).then(|| array.as_string_opt::<i32>().map(|a| a.value(r).to_owned())).flatten(),
                    ),
                    Time => Value::Time(
                        (!null)
                            .then(|| array.as_primitive_opt::<TimestampMicrosecondType>().map(|a| a.value(r)))
                            .flatten(),
                    ),
                    Float => Value::Float(
                        (!null).then(|| array.as_primitive_opt::<Float64Type>().map(|a| a.value(r))).flatten(),
                    ),
                    Int => {
                        Value::Int((!null).then(|| array.as_primitive_opt::<Int64Type>().map(|a| a.value(r))).flatten())
                    }
                    Bool => Value::Bool((!null).then(|| array.as_boolean_opt().map(|a| a.value(r))).flatten()),
                };
                let type_ok = match kind {
                    Text => array.as_string_opt::<i32>().is_some(),
                    Time => array.as_primitive_opt::<TimestampMicrosecondType>().is_some(),
                    Float => array.as_primitive_opt::<Float64Type>().is_some(),
                    Int => array.as_primitive_opt::<Int64Type>().is_some(),
                    Bool => array.as_boolean_opt().is_some(),
                };
                if !type_ok {
                    return Err(wrong());
                }
                row.push(value);
            }
        }
    }
    Ok(rows)
}

//! The warehouse tables ingest writes: their columns, and rows as plain values converted to and from Arrow / Parquet.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, ZstdLevel};
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

use Kind::{Bool, Float, Int, Text, Time};

/// Analyst-visible calls: pseudonymised, no raw phone, ID or name.
pub const CALLS: TableDef = TableDef {
    name: "calls",
    columns: &[
        ("call_id", Text),
        ("platform", Text),
        ("received_at", Time),
        ("phone_key", Text),
        ("id_key", Text),
        ("name_masked", Text),
        ("address", Text),
        ("district", Text),
        ("grid_id", Text),
        ("lon", Float),
        ("lat", Float),
        ("category", Text),
        ("counterparty", Text),
        ("narrative", Text),
        ("disposition", Text),
        ("source_call_id", Text),
        ("batch_id", Text),
    ],
    key: Some(0),
    time: Some(2),
    restricted: false,
};

/// Restricted: the raw personal data of each call and the features matching derives from it.
pub const CALLS_PII: TableDef = TableDef {
    name: "calls_pii",
    columns: &[
        ("call_id", Text),
        ("received_at", Time),
        ("caller_phone", Text),
        ("phone_canonical", Text),
        ("caller_name", Text),
        ("name_normalised", Text),
        ("surname", Text),
        ("name_pinyin", Text),
        ("honorific_only", Bool),
        ("caller_id_number", Text),
        ("id_canonical", Text),
        ("id_check_ok", Bool),
        ("birth_date", Text),
        ("female", Bool),
        ("batch_id", Text),
    ],
    key: Some(0),
    time: Some(1),
    restricted: true,
};

/// Work orders, typed (they hold no personal data).
pub const WORK_ORDERS: TableDef = TableDef {
    name: "work_orders",
    columns: &[
        ("order_id", Text),
        ("call_id", Text),
        ("created_at", Time),
        ("from_platform", Text),
        ("to_platform", Text),
        ("channel", Text),
        ("department", Text),
        ("signed_at", Time),
        ("feedback_at", Time),
        ("closed_at", Time),
        ("status", Text),
        ("satisfaction", Text),
        ("callback_at", Time),
        ("batch_id", Text),
    ],
    key: Some(0),
    time: Some(2),
    restricted: false,
};

/// Rows that broke the contract, with personal fields pseudonymised or masked.
pub const QUARANTINE: TableDef = TableDef {
    name: "quarantine",
    columns: &[
        ("batch_id", Text),
        ("file", Text),
        ("line", Int),
        ("table_name", Text),
        ("column_name", Text),
        ("reason", Text),
        ("detail", Text),
        ("record", Text),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// Restricted: quarantined records exactly as they came.
pub const QUARANTINE_PII: TableDef = TableDef {
    name: "quarantine_pii",
    columns: &[("batch_id", Text), ("file", Text), ("line", Int), ("record", Text)],
    key: None,
    time: None,
    restricted: true,
};

/// One row per ingest run.
pub const INGEST_BATCHES: TableDef = TableDef {
    name: "ingest_batches",
    columns: &[
        ("batch_id", Text),
        ("started_at", Time),
        ("finished_at", Time),
        ("files", Int),
        ("rows_read", Int),
        ("accepted", Int),
        ("updated", Int),
        ("unchanged", Int),
        ("quarantined", Int),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// The manifest: every input file ingested, by content hash (a file seen before is skipped).
pub const INGEST_FILES: TableDef = TableDef {
    name: "ingest_files",
    columns: &[
        ("sha256", Text),
        ("file", Text),
        ("bytes", Int),
        ("table_name", Text),
        ("batch_id", Text),
        ("rows_read", Int),
        ("quarantined", Int),
    ],
    key: None,
    time: None,
    restricted: false,
};

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
pub fn to_batch(columns: &[(&'static str, Kind)], rows: &[&Row]) -> Result<RecordBatch, String> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, (name, kind)) in columns.iter().enumerate() {
        let mismatch = || format!("column {name}: value of the wrong kind");
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
    RecordBatch::try_new(schema(columns), arrays).map_err(|e| e.to_string())
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
    pub fn push(&mut self, cells: &[Cell<'_>]) -> Result<(), String> {
        if cells.len() != self.builders.len() {
            return Err(format!("{} values for {} columns", cells.len(), self.builders.len()));
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
                return Err(format!("column {name}: value of the wrong kind"));
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
    pub fn finish(&mut self) -> Result<RecordBatch, String> {
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
        RecordBatch::try_new(schema(self.columns), arrays).map_err(|e| e.to_string())
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
    pub fn push(&mut self, cells: &[Cell<'_>]) -> Result<(), String> {
        self.builder.push(cells)?;
        if self.builder.len() >= 8192 { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let batch = self.builder.finish()?;
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let file = File::create(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
                let writer = ArrowWriter::try_new(file, schema(self.columns), Some(writer_properties()))
                    .map_err(|e| format!("{}: {e}", self.path.display()))?;
                self.writer.insert(writer)
            }
        };
        writer.write(&batch).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Writes what is left and closes the file; returns whether a file was written.
    pub fn finish(mut self) -> Result<bool, String> {
        self.flush()?;
        match self.writer.take() {
            Some(writer) => {
                writer.close().map_err(|e| format!("{}: {e}", self.path.display()))?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Writes rows to a new Parquet file (zstd, row groups of 128k rows).
pub fn write_parquet(path: &Path, columns: &[(&'static str, Kind)], rows: &[&Row]) -> Result<(), String> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(|e| e.to_string())?))
        .set_max_row_group_row_count(Some(128 * 1024))
        .build();
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut writer = ArrowWriter::try_new(file, schema(columns), Some(properties)).map_err(|e| e.to_string())?;
    for chunk in rows.chunks(64 * 1024) {
        writer.write(&to_batch(columns, chunk)?).map_err(|e| e.to_string())?;
    }
    let file = writer.into_inner().map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads every row of a Parquet file written by [`write_parquet`] with the same columns.
pub fn read_parquet(path: &Path, columns: &[(&'static str, Kind)]) -> Result<Vec<Row>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format!("{}: {e}", path.display()))?;
        if batch.num_columns() != columns.len() {
            return Err(format!(
                "{}: {} columns where {} are expected",
                path.display(),
                batch.num_columns(),
                columns.len()
            ));
        }
        let start = rows.len();
        rows.resize_with(start + batch.num_rows(), || Vec::with_capacity(columns.len()));
        for (i, (name, kind)) in columns.iter().enumerate() {
            let array = batch.column(i);
            let wrong = || format!("{}: column {name} has type {}", path.display(), array.data_type());
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

//! Query results as JSON objects for the API: text as text, numbers as numbers, times as local
//! time strings (UTC+8, as the hotline's desks read them).

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use serde_json::{Map, Value};

use super::ServeError;

fn engine(e: impl std::fmt::Display) -> ServeError {
    ServeError::Sql(crate::sql::SqlError::Engine(e.to_string()))
}

/// A UTC microsecond instant as `YYYY-MM-DD HH:MM:SS` in UTC+8.
pub fn local_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros + 8 * 3_600_000_000)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Every row of the batches as a JSON object keyed by column name.
pub fn to_json(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>, ServeError> {
    let mut out = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let mut columns: Vec<(String, Vec<Value>)> = Vec::new();
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            let values: Vec<Value> = match column.data_type() {
                DataType::Boolean => {
                    let a = column.as_boolean();
                    (0..a.len()).map(|r| if a.is_null(r) { Value::Null } else { Value::Bool(a.value(r)) }).collect()
                }
                DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt32 => {
                    let a = cast(column, &DataType::Int64).map_err(engine)?;
                    let a = a.as_primitive::<Int64Type>();
                    (0..a.len()).map(|r| if a.is_null(r) { Value::Null } else { Value::from(a.value(r)) }).collect()
                }
                DataType::Float32 | DataType::Float64 => {
                    let a = cast(column, &DataType::Float64).map_err(engine)?;
                    let a = a.as_primitive::<Float64Type>();
                    (0..a.len())
                        .map(|r| if a.is_null(r) { Value::Null } else { serde_json::json!(a.value(r)) })
                        .collect()
                }
                DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
                    let a = cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(engine)?;
                    let a = a.as_primitive::<TimestampMicrosecondType>();
                    (0..a.len())
                        .map(|r| if a.is_null(r) { Value::Null } else { Value::String(local_time(a.value(r))) })
                        .collect()
                }
                _ => {
                    let a = cast(column, &DataType::Utf8).map_err(engine)?;
                    let a = a.as_string::<i32>();
                    (0..a.len())
                        .map(|r| if a.is_null(r) { Value::Null } else { Value::String(a.value(r).to_owned()) })
                        .collect()
                }
            };
            columns.push((field.name().clone(), values));
        }
        for r in 0..batch.num_rows() {
            out.push(columns.iter().map(|(name, values)| (name.clone(), values[r].clone())).collect());
        }
    }
    Ok(out)
}

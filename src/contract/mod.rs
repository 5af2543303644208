//! The data contract of `../shared/data-contract/` in code: the only place that knows the input tables' column names, types and enumerations.

pub mod enums;
pub mod taxonomy;
pub mod timestamp;
mod validate;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub use enums::{Channel, Disposition, OrderStatus, Platform, Satisfaction};
pub use taxonomy::{Category, Taxonomy};
pub use validate::{Call, Reason, Violation, WorkOrder, validate_call, validate_work_order};

/// China's bounding box (degrees), outside which coordinates are rejected.
pub const CHINA_LON: (f64, f64) = (73.0, 136.0);
/// China's bounding box, latitude.
pub const CHINA_LAT: (f64, f64) = (3.0, 54.0);

/// The two tables of the interchange format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `calls`: one row per received call.
    Calls,
    /// `work_orders`: one row per hand-off.
    WorkOrders,
}

/// The kind of value a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Free text.
    Text,
    /// A contract timestamp.
    Timestamp,
    /// A WGS84 coordinate.
    Degrees,
    /// A `Platform` code.
    Platform,
    /// A `Disposition` code or label.
    Disposition,
    /// A `Channel` code or label.
    Channel,
    /// An `OrderStatus` code or label.
    Status,
    /// A `Satisfaction` code or label.
    Satisfaction,
    /// A taxonomy code or Chinese name.
    Category,
}

/// Whether a column and its value must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// The column must be present and every row must have a value.
    Required,
    /// The column must be present; a value may be empty.
    RequiredMayBeEmpty,
    /// The column may be absent.
    Optional,
}

/// One column of a contract table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Column name as written in files.
    pub name: &'static str,
    /// What it holds.
    pub ty: ColumnType,
    /// Whether it must be present.
    pub presence: Presence,
}

const fn col(name: &'static str, ty: ColumnType, presence: Presence) -> ColumnSpec {
    ColumnSpec { name, ty, presence }
}

use ColumnType as T;
use Presence as P;

/// Columns of `calls`, in contract order.
pub const CALL_COLUMNS: &[ColumnSpec] = &[
    col("call_id", T::Text, P::Required),
    col("platform", T::Platform, P::Required),
    col("received_at", T::Timestamp, P::Required),
    col("caller_phone", T::Text, P::RequiredMayBeEmpty),
    col("caller_name", T::Text, P::Optional),
    col("caller_id_number", T::Text, P::Optional),
    col("address", T::Text, P::Optional),
    col("district", T::Text, P::Optional),
    col("grid_id", T::Text, P::Optional),
    col("lon", T::Degrees, P::Optional),
    col("lat", T::Degrees, P::Optional),
    col("category", T::Category, P::Required),
    col("counterparty", T::Text, P::Optional),
    col("narrative", T::Text, P::Required),
    col("disposition", T::Disposition, P::Required),
    col("source_call_id", T::Text, P::Optional),
];

/// Columns of `work_orders`, in contract order.
pub const WORK_ORDER_COLUMNS: &[ColumnSpec] = &[
    col("order_id", T::Text, P::Required),
    col("call_id", T::Text, P::Required),
    col("created_at", T::Timestamp, P::Required),
    col("from_platform", T::Platform, P::Required),
    col("to_platform", T::Platform, P::Optional),
    col("channel", T::Channel, P::Required),
    col("department", T::Text, P::Optional),
    col("signed_at", T::Timestamp, P::Optional),
    col("feedback_at", T::Timestamp, P::Optional),
    col("closed_at", T::Timestamp, P::Optional),
    col("status", T::Status, P::Required),
    col("satisfaction", T::Satisfaction, P::Optional),
    col("callback_at", T::Timestamp, P::Optional),
];

/// Positions of the `calls` columns in a raw record (same order as [`CALL_COLUMNS`]).
#[allow(missing_docs)]
pub mod call_col {
    pub const CALL_ID: usize = 0;
    pub const PLATFORM: usize = 1;
    pub const RECEIVED_AT: usize = 2;
    pub const CALLER_PHONE: usize = 3;
    pub const CALLER_NAME: usize = 4;
    pub const CALLER_ID_NUMBER: usize = 5;
    pub const ADDRESS: usize = 6;
    pub const DISTRICT: usize = 7;
    pub const GRID_ID: usize = 8;
    pub const LON: usize = 9;
    pub const LAT: usize = 10;
    pub const CATEGORY: usize = 11;
    pub const COUNTERPARTY: usize = 12;
    pub const NARRATIVE: usize = 13;
    pub const DISPOSITION: usize = 14;
    pub const SOURCE_CALL_ID: usize = 15;
}

/// Positions of the `work_orders` columns in a raw record (same order as [`WORK_ORDER_COLUMNS`]).
#[allow(missing_docs)]
pub mod order_col {
    pub const ORDER_ID: usize = 0;
    pub const CALL_ID: usize = 1;
    pub const CREATED_AT: usize = 2;
    pub const FROM_PLATFORM: usize = 3;
    pub const TO_PLATFORM: usize = 4;
    pub const CHANNEL: usize = 5;
    pub const DEPARTMENT: usize = 6;
    pub const SIGNED_AT: usize = 7;
    pub const FEEDBACK_AT: usize = 8;
    pub const CLOSED_AT: usize = 9;
    pub const STATUS: usize = 10;
    pub const SATISFACTION: usize = 11;
    pub const CALLBACK_AT: usize = 12;
}

impl Table {
    /// Both tables.
    pub const ALL: [Table; 2] = [Table::Calls, Table::WorkOrders];

    /// The table's name in files and in the warehouse.
    pub fn name(self) -> &'static str {
        match self {
            Table::Calls => "calls",
            Table::WorkOrders => "work_orders",
        }
    }

    /// Parses a table name.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The table's columns in contract order.
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            Table::Calls => CALL_COLUMNS,
            Table::WorkOrders => WORK_ORDER_COLUMNS,
        }
    }

    /// Position of a column by name.
    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    /// Name of the key column (`call_id` or `order_id`).
    pub fn key_column(self) -> &'static str {
        self.columns()[0].name
    }

    /// Guesses the table from a file's column names: `order_id` means work orders,
    /// `call_id` with `narrative` means calls.
    pub fn detect<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Table> {
        let names: Vec<&str> = names.into_iter().collect();
        if names.contains(&"order_id") {
            Some(Table::WorkOrders)
        } else if names.contains(&"call_id") && names.contains(&"narrative") {
            Some(Table::Calls)
        } else {
            None
        }
    }

    /// The Arrow schema of the table in a Parquet export: text and enumerations as UTF-8,
    /// timestamps as UTC microseconds, coordinates as float64.
    pub fn input_schema(self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|c| {
                let ty = match c.ty {
                    ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    ColumnType::Degrees => DataType::Float64,
                    _ => DataType::Utf8,
                };
                Field::new(c.name, ty, c.presence != Presence::Required)
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_positions_match_the_constants() {
        assert_eq!(Table::Calls.column_index("narrative"), Some(call_col::NARRATIVE));
        assert_eq!(Table::Calls.column_index("source_call_id"), Some(call_col::SOURCE_CALL_ID));
        assert_eq!(Table::Calls.column_index("lat"), Some(call_col::LAT));
        assert_eq!(Table::WorkOrders.column_index("callback_at"), Some(order_col::CALLBACK_AT));
        assert_eq!(Table::WorkOrders.column_index("status"), Some(order_col::STATUS));
        assert_eq!(Table::Calls.key_column(), "call_id");
        assert_eq!(Table::WorkOrders.key_column(), "order_id");
    }

    #[test]
    fn tables_are_detected_from_their_headers() {
        assert_eq!(Table::detect(["call_id", "narrative", "platform"]), Some(Table::Calls));
        assert_eq!(Table::detect(["order_id", "call_id"]), Some(Table::WorkOrders));
        assert_eq!(Table::detect(["foo", "bar"]), None);
    }

    #[test]
    fn input_schema_has_every_column_with_its_arrow_type() {
        let schema = Table::Calls.input_schema();
        assert_eq!(schema.fields().len(), CALL_COLUMNS.len());
        assert_eq!(schema.field_with_name("lon").unwrap().data_type(), &DataType::Float64);
        assert!(!schema.field_with_name("call_id").unwrap().is_nullable());
        assert!(matches!(
            schema.field_with_name("received_at").unwrap().data_type(),
            DataType::Timestamp(TimeUnit::Microsecond, Some(_))
        ));
    }
}

//! SQL functions for analysts (phones, text similarity, the taxonomy, grid cells) and size guards on
//! built-in functions whose output a query could make enormous (`repeat`, `lpad`, …).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray, new_null_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{DataFusionError, Result as DfResult, exec_err};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, create_udf,
};
use datafusion::prelude::SessionContext;

use crate::contract::taxonomy::Taxonomy;
use crate::pii::normalize_phone;

/// Bytes one call of a size-guarded function may produce for one batch of rows.
pub const MAX_OUTPUT_BYTES: usize = 256 << 20;

/// The analyst functions, with one line each for the shell's help and the README.
pub const HELP: &[(&str, &str)] = &[
    ("normalize_phone(text) → text", "canonical phone: 11-digit mobile, or area code + number; NULL if not a phone"),
    ("text_sim(a, b) → double", "similarity of two texts, 0..1 (normalised Levenshtein over characters)"),
    ("category_name(code) → text", "Chinese name of a taxonomy category code"),
    ("is_police_matter(code) → boolean", "whether a category is a police matter (NULL for an unknown code)"),
    (
        "grid_cell(lon, lat, metres) → text",
        "id (`250m:ROW:COLUMN`) of the square cell of that size holding the point; columns count from the central meridian of the point's 3° zone",
    ),
    ("local_date(ts) → date", "the Asia/Shanghai calendar date of a UTC instant"),
];

fn array_of(value: &ColumnarValue, rows: usize) -> DfResult<ArrayRef> {
    value.to_array(rows)
}

fn strings(value: &ColumnarValue, rows: usize) -> DfResult<StringArray> {
    let array = cast(&array_of(value, rows)?, &DataType::Utf8)?;
    Ok(array.as_string::<i32>().clone())
}

fn floats(value: &ColumnarValue, rows: usize) -> DfResult<Float64Array> {
    let array = cast(&array_of(value, rows)?, &DataType::Float64)?;
    Ok(array.as_primitive::<datafusion::arrow::datatypes::Float64Type>().clone())
}

fn integers(value: &ColumnarValue, rows: usize) -> DfResult<Int64Array> {
    let array = cast(&array_of(value, rows)?, &DataType::Int64)?;
    Ok(array.as_primitive::<datafusion::arrow::datatypes::Int64Type>().clone())
}

fn rows_of(args: &[ColumnarValue]) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(array) => Some(array.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1)
}

fn text_map(args: &[ColumnarValue], f: impl Fn(&str) -> Option<String>) -> DfResult<ColumnarValue> {
    let rows = rows_of(args);
    let input = strings(&args[0], rows)?;
    let out: StringArray = input.iter().map(|v| v.and_then(&f)).collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

fn normalize_phone_fn(args: &[ColumnarValue]) -> DfResult<ColumnarValue> {
    text_map(args, normalize_phone)
}

fn category_name_fn(args: &[ColumnarValue]) -> DfResult<ColumnarValue> {
    text_map(args, |code| Taxonomy::builtin().get(code).map(|c| c.name_zh.clone()))
}

fn is_police_matter_fn(args: &[ColumnarValue]) -> DfResult<ColumnarValue> {
    let rows = rows_of(args);
    let input = strings(&args[0], rows)?;
    let out: BooleanArray =
        input.iter().map(|v| v.and_then(|code| Taxonomy::builtin().get(code)).map(|c| c.police_matter)).collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

fn text_sim_fn(args: &[ColumnarValue]) -> DfResult<ColumnarValue> {
    let rows = rows_of(args);
    let (a, b) = (strings(&args[0], rows)?, strings(&args[1], rows)?);
    let out: Float64Array = a
        .iter()
        .zip(b.iter())
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => Some(strsim::normalized_levenshtein(a, b)),
            _ => None,
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// Metres per degree of latitude.
pub const METRES_PER_DEGREE: f64 = 111_320.0;

/// Width in degrees of the longitude zones cells are numbered in (China's 3° Gauss–Krüger zones:
/// zone n is centred on 3n° E).
const ZONE_DEGREES: f64 = 3.0;

/// Columns set aside for each zone (a zone is at most 167 km wide either side of its centre, so
/// even 1 m cells fit).
const ZONE_COLUMNS: f64 = 1_000_000.0;

/// The (row, column) of the cell holding a point in a grid of `metres`-sized squares: rows are
/// bands of latitude; within a band, columns are measured east from the central meridian of the
/// point's 3° zone at the band's middle latitude, so cells are square on the ground and a column
/// lines up with the columns of the rows above and below it (measured from the prime meridian,
/// columns at 111° E would shift a whole cell every row). The column is `zone × 1,000,000 +
/// columns east of the zone's centre`. `None` for a point off the map or a size under a metre.
pub fn grid_cell_index(lon: f64, lat: f64, metres: f64) -> Option<(i32, i32)> {
    if !(lon.is_finite() && lat.is_finite() && metres.is_finite())
        || metres < 1.0
        || lat.abs() > 89.0
        || lon.abs() > 180.0
    {
        return None;
    }
    let row = (lat * METRES_PER_DEGREE / metres).floor();
    let middle = (row + 0.5) * metres / METRES_PER_DEGREE;
    let zone = (lon / ZONE_DEGREES).round();
    let east = ((lon - zone * ZONE_DEGREES) * METRES_PER_DEGREE * middle.to_radians().cos() / metres).floor();
    Some((row as i32, (zone * ZONE_COLUMNS + east) as i32))
}

/// The bounds (west, south, east, north) in degrees of a cell numbered by [`grid_cell_index`].
pub fn grid_cell_bounds(row: i32, column: i32, metres: f64) -> (f64, f64, f64, f64) {
    let south = f64::from(row) * metres / METRES_PER_DEGREE;
    let north = (f64::from(row) + 1.0) * metres / METRES_PER_DEGREE;
    let middle = (f64::from(row) + 0.5) * metres / METRES_PER_DEGREE;
    let zone = (f64::from(column) / ZONE_COLUMNS).round();
    let east = f64::from(column) - zone * ZONE_COLUMNS;
    let per_degree = METRES_PER_DEGREE * middle.to_radians().cos();
    let west = zone * ZONE_DEGREES + east * metres / per_degree;
    (west, south, west + metres / per_degree, north)
}

/// The id of that cell, as the `grid_cell` SQL function gives it (`500m:ROW:COLUMN`).
pub fn grid_cell(lon: f64, lat: f64, metres: f64) -> Option<String> {
    let (row, column) = grid_cell_index(lon, lat, metres)?;
    Some(format!("{}m:{row}:{column}", metres.round() as i64))
}

fn grid_cell_fn(args: &[ColumnarValue]) -> DfResult<ColumnarValue> {
    let rows = rows_of(args);
    let (lon, lat, size) = (floats(&args[0], rows)?, floats(&args[1], rows)?, floats(&args[2], rows)?);
    let out: StringArray = (0..rows)
        .map(|i| {
            if lon.is_null(i) || lat.is_null(i) || size.is_null(i) {
                return None;
            }
            grid_cell(lon.value(i), lat.value(i), size.value(i))
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

fn local_date_fn(args: &[ColumnarValue]) -> DfResult<ColumnarValue> {
    use datafusion::arrow::datatypes::{TimeUnit, TimestampMicrosecondType};
    let rows = rows_of(args);
    let input = cast(&array_of(&args[0], rows)?, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let micros = input.as_primitive::<TimestampMicrosecondType>();
    const DAY: i64 = 86_400_000_000;
    const SHANGHAI: i64 = 8 * 3_600_000_000;
    let days: datafusion::arrow::array::Date32Array =
        micros.iter().map(|v| v.map(|t| (t + SHANGHAI).div_euclid(DAY) as i32)).collect();
    Ok(ColumnarValue::Array(Arc::new(days)))
}

fn udf(
    name: &str,
    inputs: Vec<DataType>,
    output: DataType,
    f: fn(&[ColumnarValue]) -> DfResult<ColumnarValue>,
) -> ScalarUDF {
    create_udf(name, inputs, output, Volatility::Immutable, Arc::new(f))
}

/// How much a guarded built-in function would produce for a batch, from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum OutputSize {
    /// `repeat(text, n)`: length of text × n.
    Repeat,
    /// `lpad` / `rpad(text, n, …)`: n characters of up to 4 bytes.
    Pad,
    /// `array_repeat(value, n)`: n elements.
    ArrayRepeat,
}

/// A built-in function that first works out the size of its result and refuses one too large to
/// build (the memory pool does not see a function's output; an enormous one would abort the process).
#[derive(Debug, PartialEq, Eq, Hash)]
struct SizeGuarded {
    inner: Arc<ScalarUDF>,
    size: OutputSize,
}

impl SizeGuarded {
    fn check(&self, args: &ScalarFunctionArgs) -> DfResult<()> {
        let rows = args.number_rows.max(1);
        let Some(count) = args.args.get(1) else { return Ok(()) };
        let counts = integers(count, rows)?;
        let mut bytes: u128 = 0;
        match self.size {
            OutputSize::Repeat => {
                let text = strings(&args.args[0], rows)?;
                for i in 0..counts.len() {
                    if !counts.is_null(i) && !text.is_null(i) {
                        let n = counts.value(i).max(0) as u128;
                        bytes += n * text.value(i).len() as u128;
                    }
                }
            }
            OutputSize::Pad | OutputSize::ArrayRepeat => {
                let per = if self.size == OutputSize::Pad { 4 } else { 16 };
                for i in 0..counts.len() {
                    if !counts.is_null(i) {
                        bytes += counts.value(i).max(0) as u128 * per;
                    }
                }
            }
        }
        if bytes > MAX_OUTPUT_BYTES as u128 {
            return exec_err!(
                "{}() would produce about {} MiB for {rows} rows; the limit is {} MiB",
                self.inner.name(),
                bytes >> 20,
                MAX_OUTPUT_BYTES >> 20
            );
        }
        Ok(())
    }
}

impl ScalarUDFImpl for SizeGuarded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        self.check(&args)?;
        self.inner.invoke_with_args(args)
    }
}

/// Registers the analyst functions and guards the built-ins whose output size a query controls.
pub fn register(ctx: &SessionContext) -> Result<(), DataFusionError> {
    ctx.register_udf(udf("normalize_phone", vec![DataType::Utf8], DataType::Utf8, normalize_phone_fn));
    ctx.register_udf(udf("text_sim", vec![DataType::Utf8, DataType::Utf8], DataType::Float64, text_sim_fn));
    ctx.register_udf(udf("category_name", vec![DataType::Utf8], DataType::Utf8, category_name_fn));
    ctx.register_udf(udf("is_police_matter", vec![DataType::Utf8], DataType::Boolean, is_police_matter_fn));
    ctx.register_udf(udf(
        "grid_cell",
        vec![DataType::Float64, DataType::Float64, DataType::Float64],
        DataType::Utf8,
        grid_cell_fn,
    ));
    let timestamp = DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()));
    ctx.register_udf(udf("local_date", vec![timestamp], DataType::Date32, local_date_fn));
    for (name, size) in [
        ("repeat", OutputSize::Repeat),
        ("lpad", OutputSize::Pad),
        ("rpad", OutputSize::Pad),
        ("array_repeat", OutputSize::ArrayRepeat),
    ] {
        if let Ok(inner) = ctx.udf(name) {
            ctx.register_udf(ScalarUDF::new_from_impl(SizeGuarded { inner, size }));
        }
    }
    Ok(())
}

/// A null array, for functions given no rows.
pub fn nulls(rows: usize, data_type: &DataType) -> ArrayRef {
    new_null_array(data_type, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_cells_are_about_the_requested_size_on_the_ground() {
        let a = grid_cell(111.29, 30.70, 500.0).unwrap();
        assert!(a.starts_with("500m:"), "{a}");
        // 300 m east stays within one or two cells; 2 km east is another cell.
        let east = |metres: f64| 111.29 + metres / (METRES_PER_DEGREE * 30.70f64.to_radians().cos());
        assert_ne!(grid_cell(east(2000.0), 30.70, 500.0).unwrap(), a);
        assert_eq!(grid_cell(111.29, 30.70, 0.5), None);
        assert_eq!(grid_cell(f64::NAN, 30.70, 500.0), None);
    }

    #[test]
    fn grid_columns_line_up_from_row_to_row() {
        // Points on one meridian, 500 m apart north to south, fall in one column.
        let columns: std::collections::BTreeSet<i32> = (0..200)
            .map(|i| grid_cell_index(111.2937, 30.2 + f64::from(i) * 500.0 / METRES_PER_DEGREE, 500.0).unwrap().1)
            .collect();
        assert!(columns.len() <= 2, "{columns:?}");
        // A cell's bounds hold the point, on either side of a zone's centre and of the prime meridian.
        for (lon, lat) in [(111.2937, 30.71), (110.9, 30.7), (-0.3, 51.5), (179.9, -40.0)] {
            let (row, column) = grid_cell_index(lon, lat, 500.0).unwrap();
            let (w, s, e, n) = grid_cell_bounds(row, column, 500.0);
            assert!(w <= lon && lon < e && s <= lat && lat < n, "{lon} {lat}: {w} {s} {e} {n}");
            assert!(((e - w) * (((s + n) / 2.0).to_radians().cos()) * METRES_PER_DEGREE - 500.0).abs() < 1e-6);
        }
    }
}

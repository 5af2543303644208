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
use crate::geo::grid_cell;
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
    (
        "q_NAME(arg, …) in FROM",
        "the named query NAME (`hotline query list`) as a table, parameters positional in header order (literals; NULL or omitted: the default)",
    ),
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
    let days: datafusion::arrow::array::Date32Array =
        micros.iter().map(|v| v.map(|t| crate::contract::timestamp::shanghai_day(t) as i32)).collect();
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

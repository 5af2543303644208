//! Batches compacted before a sort or a merge: a window's or a merge's output batches are slices
//! of one large buffer, and the sorter counts that whole buffer for every slice, so a sort after
//! a window asked for gigabytes to hold a hundred megabytes (apache/datafusion#12136). A plan rule
//! puts [`CompactExec`] under every sort, window, sort-preserving merge and sort-merge join; it
//! copies a batch only when it holds far more than its rows need.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::utils::memory::get_record_batch_memory_size;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::SortMergeJoinExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

/// A batch is copied when the memory it holds exceeds what its rows need by this factor.
const SLACK: usize = 2;

/// Batches smaller than this are never copied (copying costs more than counting them whole).
const SMALL: usize = 64 << 10;

/// Passes its input's batches on, copying those that hold much more memory than their rows need.
#[derive(Debug)]
pub struct CompactExec {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl CompactExec {
    /// Compacts the batches of `input`.
    pub fn new(input: Arc<dyn ExecutionPlan>) -> CompactExec {
        let properties = Arc::clone(input.properties());
        CompactExec { input, properties }
    }
}

impl DisplayAs for CompactExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CompactExec")
    }
}

impl ExecutionPlan for CompactExec {
    fn name(&self) -> &'static str {
        "CompactExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(CompactExec::new(input))),
            _ => Err(datafusion::common::DataFusionError::Internal("CompactExec takes one input".into())),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let compacted = input.map(|batch| batch.and_then(compact));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, compacted)))
    }
}

/// Bytes the rows of a batch need: each column's slice, and for string and binary views the
/// out-of-line bytes of the values in the slice.
fn needed(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|column| {
            let own = column.to_data().get_slice_memory_size().unwrap_or(usize::MAX / 8);
            let outlined = match column.data_type() {
                DataType::Utf8View => column.as_string_view().views().iter().map(|v| out_of_line(*v)).sum(),
                DataType::BinaryView => column.as_binary_view().views().iter().map(|v| out_of_line(*v)).sum(),
                _ => 0,
            };
            own.saturating_add(outlined)
        })
        .fold(0usize, usize::saturating_add)
}

/// Bytes a view's value keeps outside the view (values of up to 12 bytes are kept inside).
fn out_of_line(view: u128) -> usize {
    let len = (view as u32) as usize;
    if len > 12 { len } else { 0 }
}

/// The batch, copied into buffers of its own when it holds far more than its rows need.
pub fn compact(batch: RecordBatch) -> Result<RecordBatch> {
    let held = get_record_batch_memory_size(&batch);
    if held < SMALL || held <= SLACK.saturating_mul(needed(&batch)) {
        return Ok(batch);
    }
    let rows = UInt32Array::from_iter_values(0..batch.num_rows() as u32);
    let columns = batch
        .columns()
        .iter()
        .map(|column| -> Result<ArrayRef> {
            Ok(match column.data_type() {
                DataType::Utf8View => Arc::new(column.as_string_view().gc()),
                DataType::BinaryView => Arc::new(column.as_binary_view().gc()),
                _ => datafusion::arrow::compute::take(column.as_ref(), &rows, None)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// The plan rule: a [`CompactExec`] under every sort, window, sort-preserving merge and sort-merge
/// join whose input is not a plain file scan. A sort that spilled hands on merged batches that
/// each point into the buffers of every spill file being read: a window's buffer kept them all
/// (at 10M calls, 1.9 GB resident under a 512 MB limit, and 27 s in the window), and the merge of
/// a second sort's partitions counted them for each batch (78 MB for one).
#[derive(Debug, Default)]
pub struct CompactBeforeSort;

impl PhysicalOptimizerRule for CompactBeforeSort {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let gathers = node.is::<SortExec>()
                || node.is::<BoundedWindowAggExec>()
                || node.is::<WindowAggExec>()
                || node.is::<SortPreservingMergeExec>()
                || node.is::<SortMergeJoinExec>();
            let wrap = |input: &Arc<dyn ExecutionPlan>| !input.children().is_empty() && !input.is::<CompactExec>();
            if !gathers || !node.children().into_iter().any(wrap) {
                return Ok(Transformed::no(node));
            }
            let children = node
                .children()
                .into_iter()
                .map(|input| -> Arc<dyn ExecutionPlan> {
                    if wrap(input) { Arc::new(CompactExec::new(Arc::clone(input))) } else { Arc::clone(input) }
                })
                .collect();
            // The node's inputs keep their properties: CompactExec passes them through.
            let keep = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep);
            let node = Arc::clone(&node).replace_children(children, keep)?;
            match node.downcast_ref::<BoundedWindowAggExec>().map(unviewed_window).transpose()? {
                Some(Some(rewritten)) => Ok(Transformed::yes(rewritten)),
                _ => Ok(Transformed::yes(node)),
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "compact_before_sort"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A streaming window keeps the rows of each open partition by taking them out of its input
/// batches, and a string view taken out of a batch keeps that batch's whole text buffer: one
/// large partition (199,716 calls without a phone at 10M calls) then held a buffer of every input
/// batch, 1.6 GB under a 512 MB limit. The window is rebuilt over its input with the text columns
/// it carries, sorts or partitions by cast to plain strings (whose rows are copied when taken),
/// and those columns cast back to views above it. Columns a window function reads keep their
/// type. Returns `None` when there is nothing to cast.
fn unviewed_window(window: &BoundedWindowAggExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_expr::utils::collect_columns;
    use datafusion::physical_plan::{ExecutionPlanProperties, Partitioning};
    let input = window.input();
    let schema = input.schema();
    let mut read = std::collections::HashSet::new();
    for expr in window.window_expr() {
        for argument in expr.expressions() {
            read.extend(collect_columns(&argument).iter().map(Column::index));
        }
    }
    let cast: Vec<usize> = (0..schema.fields().len())
        .filter(|i| schema.field(*i).data_type() == &DataType::Utf8View && !read.contains(i))
        .collect();
    if cast.is_empty() {
        return Ok(None);
    }
    let plain: Arc<dyn ExecutionPlan> = Arc::new(CastViewsExec::try_new(Arc::clone(input), &cast, DataType::Utf8)?);
    let repartitioned = matches!(input.output_partitioning(), Partitioning::Hash(..));
    let rebuilt: Arc<dyn ExecutionPlan> = Arc::new(BoundedWindowAggExec::try_new(
        window.window_expr().to_vec(),
        plain,
        window.input_order_mode.clone(),
        repartitioned,
    )?);
    Ok(Some(Arc::new(CastViewsExec::try_new(rebuilt, &cast, DataType::Utf8View)?)))
}

/// Casts some text columns between string views and plain strings, keeping the input's order,
/// partitioning and every other column as they are (both forms sort alike, byte by byte).
#[derive(Debug)]
pub struct CastViewsExec {
    input: Arc<dyn ExecutionPlan>,
    columns: Vec<usize>,
    schema: datafusion::arrow::datatypes::SchemaRef,
    properties: Arc<PlanProperties>,
}

impl CastViewsExec {
    /// Casts `columns` of `input` to `to` (`Utf8` or `Utf8View`).
    pub fn try_new(input: Arc<dyn ExecutionPlan>, columns: &[usize], to: DataType) -> Result<CastViewsExec> {
        use datafusion::arrow::datatypes::{Field, Schema};
        use datafusion::physical_expr::EquivalenceProperties;
        use datafusion::physical_plan::ExecutionPlanProperties;
        let from = input.schema();
        let fields: Vec<Field> =
            from.fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if columns.contains(&i) {
                        f.as_ref().clone().with_data_type(to.clone())
                    } else {
                        f.as_ref().clone()
                    }
                })
                .collect();
        let schema = Arc::new(Schema::new_with_metadata(fields, from.metadata().clone()));
        let orderings =
            input.output_ordering().map(|o| vec![o.iter().cloned().collect::<Vec<_>>()]).unwrap_or_default();
        let equivalence = EquivalenceProperties::new_with_orderings(Arc::clone(&schema), orderings);
        let properties = PlanProperties::new(
            equivalence,
            input.output_partitioning().clone(),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Ok(CastViewsExec { input, columns: columns.to_vec(), schema, properties: Arc::new(properties) })
    }
}

impl DisplayAs for CastViewsExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CastViewsExec: columns={:?}", self.columns)
    }
}

impl ExecutionPlan for CastViewsExec {
    fn name(&self) -> &'static str {
        "CastViewsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let to = self.columns.first().map_or(DataType::Utf8, |&i| self.schema.field(i).data_type().clone());
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(CastViewsExec::try_new(input, &self.columns, to)?)),
            _ => Err(datafusion::common::DataFusionError::Internal("CastViewsExec takes one input".into())),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let (schema, columns) = (Arc::clone(&self.schema), self.columns.clone());
        let out = Arc::clone(&schema);
        let cast = input.map(move |batch| {
            let batch = batch?;
            let arrays = batch
                .columns()
                .iter()
                .enumerate()
                .map(|(i, array)| {
                    if columns.contains(&i) {
                        Ok(datafusion::arrow::compute::cast(array, schema.field(i).data_type())?)
                    } else {
                        Ok(Arc::clone(array))
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(RecordBatch::try_new(Arc::clone(&schema), arrays)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(out, cast)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringViewArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    fn batch(rows: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("text", DataType::Utf8View, false),
        ]));
        let text: StringViewArray =
            (0..rows).map(|i| Some(format!("a narrative long enough to be kept outside {i}"))).collect();
        let n = Int64Array::from_iter_values(0..rows as i64);
        RecordBatch::try_new(schema, vec![Arc::new(n), Arc::new(text)]).unwrap()
    }

    /// Runs a window then a sort over 200,000 rows under a pool, with or without the rule.
    fn window_then_sort(with_rule: bool, pool: usize) -> Result<Vec<RecordBatch>> {
        use datafusion::datasource::MemTable;
        use datafusion::execution::SessionStateBuilder;
        use datafusion::execution::memory_pool::FairSpillPool;
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        use datafusion::prelude::{SessionConfig, SessionContext};
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("p", DataType::Int64, false),
            Field::new("text", DataType::Utf8View, false),
        ]));
        let batches: Vec<RecordBatch> = (0..25i64)
            .map(|b| {
                let n = Int64Array::from_iter_values((0..8_000).map(|i| b * 8_000 + i));
                let p = Int64Array::from_iter_values((0..8_000).map(|i| (b * 8_000 + i) % 97));
                let text: StringViewArray = (0..8_000)
                    .map(|i| Some(format!("{:08} a narrative long enough to sit outside", (i * 7919) % 8_000)))
                    .collect();
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(n), Arc::new(p), Arc::new(text)]).unwrap()
            })
            .collect();
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(FairSpillPool::new(pool))).build_arc()?;
        let config = SessionConfig::new().with_target_partitions(1);
        let mut rules = datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules;
        if with_rule {
            rules.push(Arc::new(CompactBeforeSort));
        }
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rules(rules)
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![batches])?))?;
        let sql = "SELECT text, count(*) OVER (PARTITION BY p ORDER BY n) AS k FROM t ORDER BY text, n";
        let runtime = tokio::runtime::Builder::new_current_thread().thread_stack_size(16 << 20).build()?;
        runtime.block_on(async { ctx.sql(sql).await?.collect().await })
    }

    #[test]
    fn a_sort_after_a_window_fits_the_memory_its_rows_need() {
        // Without the rule DataFusion counts the window's whole buffer for each slice it emits.
        let without = window_then_sort(false, 48 << 20);
        assert!(without.is_err_and(|e| e.to_string().contains("Not enough memory")), "the rule is needed");
        let with = window_then_sort(true, 48 << 20).unwrap();
        assert_eq!(with.iter().map(RecordBatch::num_rows).sum::<usize>(), 200_000);
        // The same rows, types and order as DataFusion's own plan gives with memory to spare.
        let plenty = window_then_sort(false, 4 << 30).unwrap();
        let concat = |b: &[RecordBatch]| datafusion::arrow::compute::concat_batches(&b[0].schema(), b).unwrap();
        assert_eq!(concat(&with), concat(&plenty));
    }

    #[test]
    fn a_slice_of_a_large_batch_is_copied_and_a_whole_batch_passes_as_it_is() {
        let whole = batch(200_000);
        let slice = whole.slice(1_000, 8_192);
        let held = get_record_batch_memory_size(&slice);
        let compacted = compact(slice.clone()).unwrap();
        assert_eq!(compacted, slice, "same rows");
        let now = get_record_batch_memory_size(&compacted);
        assert!(now * 20 < held, "{held} bytes held before, {now} after");
        // A batch that owns its buffers is passed on without a copy.
        let passed = compact(whole.clone()).unwrap();
        assert!(passed.column(1).to_data().buffers()[0].as_ptr() == whole.column(1).to_data().buffers()[0].as_ptr());
    }
}

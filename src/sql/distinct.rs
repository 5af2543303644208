//! A plan rule for several `COUNT(DISTINCT …)` over one grouping: one grouping per distinct column, joined on the groups, so each spills under the memory limit.
//!
//! DataFusion turns a single `COUNT(DISTINCT x)` into a grouping by `x` (which spills), but two or
//! more over different columns keep a set of values per group in memory, outside what the pool
//! can take back: `COUNT(DISTINCT phone_key), COUNT(DISTINCT narrative) … GROUP BY district,
//! category` over 10M calls grew to 2.9 GB under a 512 MB limit before failing. Here each distinct
//! count becomes `GROUP BY g, x` then `COUNT(x) … GROUP BY g`, and the parts are joined on `g`
//! (nulls equal). Every part has the same groups, so the join gives one row per group; `COUNT(x)`
//! skips nulls as `COUNT(DISTINCT x)` does; without `GROUP BY` each part is one row.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, NullEquality, Result};
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams};
use datafusion::logical_expr::{Aggregate, Expr, JoinType, LogicalPlan, LogicalPlanBuilder};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// The column each part groups by besides the query's groups.
const VALUE: &str = "__hotline_distinct_value";

/// Splits an aggregate of two or more `COUNT(DISTINCT column)` (and nothing else) into one
/// grouping per column, joined on the groups.
#[derive(Debug, Default)]
pub struct SplitDistinctCounts;

impl OptimizerRule for SplitDistinctCounts {
    fn name(&self) -> &str {
        "hotline_split_distinct_counts"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &plan else { return Ok(Transformed::no(plan)) };
        let Some(values) = distinct_count_values(aggregate) else { return Ok(Transformed::no(plan)) };
        let split = split(aggregate, &values)?;
        Ok(Transformed::yes(split))
    }
}

/// The value of each aggregate when every one is `COUNT(DISTINCT value)` (no filter, no order)
/// over at least two different values and the grouping is plain; else None.
fn distinct_count_values(aggregate: &Aggregate) -> Option<Vec<Expr>> {
    if aggregate.group_expr.iter().any(|g| matches!(g, Expr::GroupingSet(_))) {
        return None;
    }
    let mut values = Vec::with_capacity(aggregate.aggr_expr.len());
    for expr in &aggregate.aggr_expr {
        let Expr::AggregateFunction(AggregateFunction {
            func,
            params: AggregateFunctionParams { args, distinct: true, filter: None, order_by, .. },
        }) = expr
        else {
            return None;
        };
        if func.name() != "count" || args.len() != 1 || !order_by.is_empty() {
            return None;
        }
        values.push(args[0].clone());
    }
    let first = values.first()?;
    values.iter().any(|v| v != first).then_some(values)
}

/// The aggregate as parts joined on its groups, projected to the aggregate's own schema.
fn split(aggregate: &Aggregate, values: &[Expr]) -> Result<LogicalPlan> {
    let groups = aggregate.group_expr.len();
    let input = aggregate.input.as_ref();
    // One part per different value; aggregates over the same value share it.
    let mut distinct: Vec<&Expr> = Vec::new();
    let part_of: Vec<usize> = values
        .iter()
        .map(|v| match distinct.iter().position(|d| *d == v) {
            Some(i) => i,
            None => {
                distinct.push(v);
                distinct.len() - 1
            }
        })
        .collect();
    let mut joined: Option<LogicalPlanBuilder> = None;
    let mut count_names = Vec::with_capacity(distinct.len());
    for (i, value) in distinct.iter().enumerate() {
        let mut by = aggregate.group_expr.clone();
        by.push((*value).clone().alias(VALUE));
        let pairs = LogicalPlanBuilder::from(input.clone()).aggregate(by, Vec::<Expr>::new())?.build()?;
        let outer_by: Vec<Expr> =
            (0..groups).map(|k| Expr::Column(Column::from(pairs.schema().qualified_field(k)))).collect();
        let count = datafusion::functions_aggregate::expr_fn::count(Expr::Column(Column::from_name(VALUE)));
        let alias = format!("__hotline_distinct_{i}");
        let part = LogicalPlanBuilder::from(pairs).aggregate(outer_by, vec![count])?.alias(alias.as_str())?.build()?;
        count_names.push(Column::new(Some(alias.as_str()), part.schema().field(groups).name()));
        let keys = |plan: &LogicalPlan| -> Vec<Column> {
            (0..groups).map(|k| Column::from(plan.schema().qualified_field(k))).collect()
        };
        joined = Some(match joined {
            None => LogicalPlanBuilder::from(part),
            Some(left) => {
                let left_plan = left.build()?;
                let (left_keys, right_keys) = (keys(&left_plan), keys(&part));
                if groups == 0 {
                    LogicalPlanBuilder::from(left_plan).cross_join(part)?
                } else {
                    LogicalPlanBuilder::from(left_plan).join_detailed(
                        part,
                        JoinType::Inner,
                        (left_keys, right_keys),
                        None,
                        NullEquality::NullEqualsNull,
                    )?
                }
            }
        });
    }
    let Some(joined) = joined else { return Ok(LogicalPlan::Aggregate(aggregate.clone())) };
    let joined = joined.build()?;
    // The aggregate's own names and qualifiers: the groups from the first part, then each count.
    let mut exprs = Vec::with_capacity(aggregate.schema.fields().len());
    for k in 0..groups {
        let (qualifier, field) = aggregate.schema.qualified_field(k);
        let source = Expr::Column(Column::from(joined.schema().qualified_field(k)));
        exprs.push(source.alias_qualified(qualifier.cloned(), field.name()));
    }
    for (j, &part) in part_of.iter().enumerate() {
        let (qualifier, field) = aggregate.schema.qualified_field(groups + j);
        let source = Expr::Column(count_names[part].clone());
        exprs.push(source.alias_qualified(qualifier.cloned(), field.name()));
    }
    LogicalPlanBuilder::from(joined).project(exprs)?.build()
}

/// The rule, for the session builder.
pub fn rule() -> Arc<dyn OptimizerRule + Send + Sync> {
    Arc::new(SplitDistinctCounts)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::SessionContext;

    fn context(with_rule: bool) -> SessionContext {
        let mut builder = SessionStateBuilder::new().with_default_features();
        if with_rule {
            builder = builder.with_optimizer_rule(super::rule());
        }
        SessionContext::new_with_state(builder.build())
    }

    async fn rows(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = pretty_format_batches(&batches).unwrap().to_string();
        // Compared as sorted lines: neither plan promises an order.
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    }

    const TABLE: &str = "CREATE TABLE t (g VARCHAR, h INT, a VARCHAR, b INT) AS VALUES \
        ('x', 1, 'p', 1), ('x', 1, 'p', 2), ('x', 1, NULL, 2), ('x', 2, 'q', NULL), \
        (NULL, 1, 'p', 3), (NULL, 1, 'r', 3), ('y', NULL, NULL, NULL), ('y', NULL, 's', 4)";

    #[tokio::test]
    async fn split_counts_equal_the_engines_with_null_groups_values_and_no_grouping() {
        let queries = [
            "SELECT g, h, COUNT(DISTINCT a) AS texts, COUNT(DISTINCT b) AS numbers FROM t GROUP BY g, h",
            "SELECT COUNT(DISTINCT a) AS x, COUNT(DISTINCT b) AS y, COUNT(DISTINCT a) AS z FROM t",
            "SELECT g, COUNT(DISTINCT a), COUNT(DISTINCT b) FROM t WHERE h = 99 GROUP BY g",
            "SELECT COUNT(DISTINCT a), COUNT(DISTINCT b) FROM t WHERE h = 99",
            "SELECT upper(g) AS G, COUNT(DISTINCT a) AS n, COUNT(DISTINCT b + 1) AS m FROM t GROUP BY upper(g) ORDER BY G",
            "SELECT g, n FROM (SELECT g, COUNT(DISTINCT a) AS n, COUNT(DISTINCT b) AS m FROM t GROUP BY g) WHERE m > 1",
        ];
        let (plain, split) = (context(false), context(true));
        for ctx in [&plain, &split] {
            ctx.sql(TABLE).await.unwrap().collect().await.unwrap();
        }
        for sql in queries {
            assert_eq!(rows(&split, sql).await, rows(&plain, sql).await, "{sql}");
        }
        // The rule did apply: the plan groups by the value and joins the parts.
        let plan = split.sql(queries[0]).await.unwrap().into_optimized_plan().unwrap();
        let shown = plan.display_indent().to_string();
        assert!(shown.contains(super::VALUE) && shown.contains("Inner Join"), "{shown}");
        assert!(!shown.contains("count(DISTINCT"), "{shown}");
    }
}

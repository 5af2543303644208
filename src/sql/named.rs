//! The named queries as table functions: `SELECT * FROM q_headline_by_month('2023-06', '2023-08')`
//! runs `queries/headline_by_month.sql` with its parameters bound in header order, so a SQL tool
//! that cannot run `hotline query` (a BI chart, a notebook, a PostgreSQL client) still can.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{ScalarValue, plan_err};
use datafusion::datasource::ViewTable;
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;

use super::queries::NamedQuery;

/// Prefix of a named query's table function.
pub const PREFIX: &str = "q_";

/// One named query as a table function.
#[derive(Debug)]
struct NamedFunction {
    query: NamedQuery,
}

/// A literal argument as the text bound into the query (`NULL`: the parameter's default).
fn argument(query: &NamedQuery, position: usize, expr: &Expr) -> Result<Option<String>> {
    let name = query.params.get(position).map_or("?", |p| p.name.as_str());
    let Expr::Literal(value, _) = expr else {
        return plan_err!(
            "{PREFIX}{}: argument {} ({name}) must be a literal such as '2023-07', not {expr}",
            query.name,
            position + 1
        );
    };
    if value.is_null() {
        return Ok(None);
    }
    Ok(Some(match value {
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => s.clone(),
        other => other.to_string(),
    }))
}

impl TableFunctionImpl for NamedFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let query = &self.query;
        let exprs = args.exprs();
        if exprs.len() > query.params.len() {
            let names: Vec<&str> = query.params.iter().map(|p| p.name.as_str()).collect();
            return plan_err!(
                "{PREFIX}{} takes at most {} argument(s) ({}), not {}",
                query.name,
                query.params.len(),
                if names.is_empty() { "none".to_owned() } else { names.join(", ") },
                exprs.len()
            );
        }
        let mut values = Vec::new();
        for (i, expr) in exprs.iter().enumerate() {
            if let Some(value) = argument(query, i, expr)? {
                values.push((query.params[i].name.clone(), value));
            }
        }
        let sql = query.bind(&values).map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?;
        let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{PREFIX}{} needs a full session to plan in", query.name);
        };
        // Planning only resolves tables already registered in the session: it waits on nothing, so
        // it can be driven here, inside the planning of the query that calls the function.
        let plan = futures::executor::block_on(state.create_logical_plan(&sql))?;
        Ok(Arc::new(ViewTable::new(plan, Some(sql))))
    }
}

/// Registers `q_NAME` for every named query.
pub fn register(ctx: &SessionContext) -> std::result::Result<(), super::SqlError> {
    for query in super::queries::all()?.into_values() {
        let name = format!("{PREFIX}{}", query.name);
        ctx.register_udtf(&name, Arc::new(NamedFunction { query }));
    }
    Ok(())
}

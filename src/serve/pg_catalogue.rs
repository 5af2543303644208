//! What the PostgreSQL endpoint's catalogue tells clients' introspection (SQLAlchemy, hence
//! Superset; DBeaver) where DataFusion 55 cannot take their queries as written: index and
//! constraint catalogues typed as PostgreSQL's arrays, and correlated scalar subqueries nested in
//! a catalogue query's columns read as NULL.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemTable, SchemaProvider, TableProvider};
use datafusion::common::Result;
use datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, Query, SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut, Visitor, VisitorMut,
};
use std::ops::ControlFlow;

/// Catalogue tables whose PostgreSQL array columns the bundled catalogue holds as text (so that
/// `unnest(indkey)` cannot be planned), with each column's element type. The endpoint serves no
/// index and no constraint, so these tables are served empty, with array columns.
const ARRAY_COLUMNS: &[(&str, &[(&str, DataType)])] = &[
    (
        "pg_index",
        &[
            ("indkey", DataType::Int16),
            ("indcollation", DataType::Int32),
            ("indclass", DataType::Int32),
            ("indoption", DataType::Int16),
        ],
    ),
    (
        "pg_constraint",
        &[
            ("conkey", DataType::Int16),
            ("confkey", DataType::Int16),
            ("conpfeqop", DataType::Int32),
            ("conppeqop", DataType::Int32),
            ("conffeqop", DataType::Int32),
            ("confdelsetcols", DataType::Int16),
            ("conexclop", DataType::Int32),
        ],
    ),
];

/// A column's type, made when asked (a list type cannot be made in a constant).
type TypeOf = fn() -> DataType;

/// Columns of PostgreSQL's `pg_class` that the bundled one lacks and clients' reflection reads
/// (SQLAlchemy's index reflection reads `reloptions`), each NULL here as for a relation without
/// them, with PostgreSQL's type.
const PG_CLASS_MISSING: &[(&str, TypeOf)] = &[
    ("reloptions", || DataType::new_list(DataType::Utf8, true)),
    ("relacl", || DataType::new_list(DataType::Utf8, true)),
    ("reloftype", || DataType::Int32),
    ("reltoastrelid", || DataType::Int32),
];

/// A table with NULL columns added where it lacks them, as a view over it.
fn with_missing_columns(
    name: &str,
    table: Arc<dyn TableProvider>,
    missing: &[(&str, TypeOf)],
) -> Result<Arc<dyn TableProvider>> {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{LogicalPlanBuilder, cast, col, lit};
    let schema = table.schema();
    let mut columns: Vec<datafusion::logical_expr::Expr> =
        schema.fields().iter().map(|f| col(datafusion::common::Column::new_unqualified(f.name()))).collect();
    for (column, data_type) in missing {
        if schema.field_with_name(column).is_err() {
            columns.push(cast(lit(ScalarValue::Null), data_type()).alias(*column));
        }
    }
    let source = datafusion::datasource::provider_as_source(table);
    let plan = LogicalPlanBuilder::scan(name, source, None)?.project(columns)?.build()?;
    Ok(Arc::new(datafusion::catalog::view::ViewTable::new(plan, None)))
}

/// `pg_catalog` as datafusion-postgres builds it, with [`ARRAY_COLUMNS`]' tables served empty
/// and typed as PostgreSQL types them, `pg_class` with [`PG_CLASS_MISSING`], `pg_settings` from
/// [`SETTINGS`] and `pg_type`'s functions as oids.
#[derive(Debug)]
pub struct ServedCatalogue {
    inner: Arc<dyn SchemaProvider>,
    types: tokio::sync::OnceCell<Arc<dyn TableProvider>>,
}

impl ServedCatalogue {
    pub fn new(inner: Arc<dyn SchemaProvider>) -> ServedCatalogue {
        ServedCatalogue { inner, types: tokio::sync::OnceCell::new() }
    }

    /// `pg_type` with its function columns as the functions' oids, as PostgreSQL's `regproc`
    /// compares: pgjdbc asks `typinput = (SELECT oid FROM pg_proc WHERE …)` of every type it
    /// has not seen, and the bundled table holds the functions' names (`tidin`), which cannot
    /// be read as oids. `-` (no function) is 0; a name pg_proc lacks, NULL.
    async fn types(&self, table: Arc<dyn TableProvider>) -> Result<Arc<dyn TableProvider>> {
        let made = self
            .types
            .get_or_try_init(|| async {
                let Some(procs) = self.inner.table("pg_proc").await? else { return Ok(table) };
                let ctx = datafusion::prelude::SessionContext::new();
                let schema = table.schema();
                ctx.register_table("pg_type", table)?;
                ctx.register_table("pg_proc", procs)?;
                let mut joins = String::new();
                let columns: Vec<String> = schema
                    .fields()
                    .iter()
                    .map(|f| {
                        let name = f.name();
                        if REGPROC_COLUMNS.contains(&name.as_str()) && f.data_type() == &DataType::Utf8 {
                            joins.push_str(&format!(
                                " LEFT JOIN procs AS \"p_{name}\" ON \"p_{name}\".proname = t.\"{name}\""
                            ));
                            format!("CASE WHEN t.\"{name}\" = '-' THEN 0 ELSE \"p_{name}\".oid END AS \"{name}\"")
                        } else {
                            format!("t.\"{name}\"")
                        }
                    })
                    .collect();
                let sql = format!(
                    "WITH procs AS (SELECT proname, min(oid) AS oid FROM pg_proc GROUP BY proname) \
                     SELECT {} FROM pg_type AS t{joins}",
                    columns.join(", ")
                );
                Ok::<_, datafusion::error::DataFusionError>(ctx.sql(&sql).await?.into_view())
            })
            .await?;
        Ok(made.clone())
    }
}

/// `pg_type`'s columns that PostgreSQL types `regproc`, a function's oid.
const REGPROC_COLUMNS: &[&str] =
    &["typsubscript", "typinput", "typoutput", "typreceive", "typsend", "typmodin", "typmodout", "typanalyze"];

/// The schema of `table` with its array columns typed as lists of their elements.
fn with_arrays(schema: &Schema, arrays: &[(&str, DataType)]) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match arrays.iter().find(|(name, _)| f.name() == name) {
            Some((_, element)) => Field::new(f.name(), DataType::new_list(element.clone(), true), true),
            None => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

#[async_trait]
impl SchemaProvider for ServedCatalogue {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.inner.table(name).await?;
        match (table, ARRAY_COLUMNS.iter().find(|(t, _)| *t == name)) {
            (Some(table), Some((_, arrays))) => {
                let schema = with_arrays(&table.schema(), arrays);
                Ok(Some(Arc::new(MemTable::try_new(schema, vec![vec![]])?)))
            }
            (Some(table), None) if name == "pg_class" => Ok(Some(with_missing_columns(name, table, PG_CLASS_MISSING)?)),
            (Some(table), None) if name == "pg_settings" => Ok(Some(settings_table(&table.schema())?)),
            (Some(table), None) if name == "pg_type" => Ok(Some(self.types(table).await?)),
            (table, _) => Ok(table),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// The names a query's FROM clause gives its tables (the last part of a table's name, or its alias).
fn from_names(query: &Query) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |factor: &TableFactor| match factor {
        TableFactor::Table { name, alias, .. } => {
            if let Some(alias) = alias {
                names.push(alias.name.value.to_lowercase());
            }
            if let Some(last) = last_part(name) {
                names.push(last);
            }
        }
        TableFactor::Derived { alias: Some(alias), .. } => names.push(alias.name.value.to_lowercase()),
        _ => {}
    };
    if let SetExpr::Select(select) = query.body.as_ref() {
        for from in &select.from {
            add(&from.relation);
            for join in &from.joins {
                add(&join.relation);
            }
        }
    }
    names
}

fn last_part(name: &ObjectName) -> Option<String> {
    name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_lowercase())
}

/// An SQL expression written out (PostgreSQL's dialect), `None` if it does not parse.
fn expression(text: &str) -> Option<Expr> {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    Parser::new(&PostgreSqlDialect {}).try_with_sql(text).ok()?.parse_expr().ok()
}

/// Whether a subquery names a column of a table its own FROM does not hold (`pg_attribute.attnum`
/// inside `SELECT … FROM pg_attrdef WHERE …`).
fn correlated(query: &Query) -> bool {
    struct Outer {
        own: Vec<String>,
        found: bool,
    }
    impl Visitor for Outer {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if let Expr::CompoundIdentifier(parts) = expr
                && parts.len() >= 2
                && !self.own.contains(&parts[parts.len() - 2].value.to_lowercase())
            {
                self.found = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut outer = Outer { own: from_names(query), found: false };
    let _ = datafusion::sql::sqlparser::ast::Visit::visit(query, &mut outer);
    outer.found
}

/// A NULL that still holds the parameters (`$2::VARCHAR`) a subquery held, so that the
/// statement's parameters keep their numbers and types: `CASE WHEN $2::VARCHAR IS NULL … THEN
/// NULL END`.
fn null_keeping_parameters(query: &Query) -> Expr {
    struct Parameters {
        found: Vec<Expr>,
        cast: Vec<String>,
    }
    impl Visitor for Parameters {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            let placeholder = |e: &Expr| match e {
                Expr::Value(v) => match &v.value {
                    Value::Placeholder(p) => Some(p.clone()),
                    _ => None,
                },
                _ => None,
            };
            match expr {
                Expr::Cast { expr: inner, .. } => {
                    if let Some(p) = placeholder(inner) {
                        self.cast.push(p);
                        self.found.push(expr.clone());
                    }
                }
                other => {
                    if let Some(p) = placeholder(other)
                        && !self.cast.contains(&p)
                    {
                        self.found.push(other.clone());
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut parameters = Parameters { found: Vec::new(), cast: Vec::new() };
    let _ = datafusion::sql::sqlparser::ast::Visit::visit(query, &mut parameters);
    let null = Expr::Value(Value::Null.into());
    let Some(condition) =
        parameters.found.into_iter().map(|p| Expr::IsNull(Box::new(p))).reduce(|a, b| Expr::BinaryOp {
            left: Box::new(a),
            op: datafusion::sql::sqlparser::ast::BinaryOperator::Or,
            right: Box::new(b),
        })
    else {
        return null;
    };
    Expr::Case {
        case_token: datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        end_token: datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![datafusion::sql::sqlparser::ast::CaseWhen { condition, result: null }],
        else_result: None,
    }
}

/// Rewrites a catalogue query that DataFusion cannot plan as written. Each correlated scalar
/// subquery inside a column expression (`CASE WHEN … THEN (SELECT … FROM pg_attrdef WHERE …)`) or
/// a WHERE clause (pgjdbc's type list asks whether a type's relation is composite) becomes NULL,
/// as datafusion-postgres already does for such subqueries standing alone as a column. The
/// subqueries clients send there ask for defaults, identities, sequences, collations and
/// composite types, none of which the endpoint's tables have, so NULL is their answer. `None` when there is nothing to rewrite. Also [`unique_column_names`],
/// [`subscripts_as_ranges`] and [`expandarray_as_unnest`]. Only for queries of the catalogue: an
/// analyst's query is never changed.
pub fn catalogue_rewrite(statement: &Statement) -> Option<Statement> {
    struct Rewrite {
        changed: bool,
    }
    impl VisitorMut for Rewrite {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            if let SetExpr::Select(select) = query.body.as_mut() {
                let mut nulled = |expr: &mut Expr| {
                    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(expr, |e| {
                        if let Expr::Subquery(q) = e
                            && correlated(q)
                        {
                            *e = null_keeping_parameters(q);
                            self.changed = true;
                        }
                        ControlFlow::<()>::Continue(())
                    });
                };
                for item in &mut select.projection {
                    if let SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } = item {
                        nulled(expr);
                    }
                }
                if let Some(selection) = select.selection.as_mut() {
                    nulled(selection);
                }
                self.changed |= unique_column_names(&mut select.projection);
            }
            ControlFlow::Continue(())
        }
    }
    let mut statement = statement.clone();
    let mut rewrite = Rewrite { changed: false };
    let _ = statement.visit(&mut rewrite);
    let subscripts = subscripts_as_ranges(&mut statement);
    let expanded = expandarray_as_unnest(&mut statement);
    (rewrite.changed || subscripts || expanded).then_some(statement)
}

/// Names the second and later of unnamed columns that read alike (pgjdbc's procedure list asks
/// `NULL, NULL, NULL`), as `?column?2`, `?column?3`: PostgreSQL calls each `?column?`, DataFusion
/// wants a projection's names unique. Whether any was named.
fn unique_column_names(projection: &mut [SelectItem]) -> bool {
    use datafusion::sql::sqlparser::ast::Ident;
    let mut seen = std::collections::HashSet::new();
    let mut changed = false;
    for (position, item) in projection.iter_mut().enumerate() {
        if let SelectItem::UnnamedExpr(expr) = item
            && !seen.insert(expr.to_string())
        {
            let alias = Ident::with_quote('"', format!("?column?{}", position + 1));
            *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias };
            changed = true;
        }
    }
    changed
}

/// `information_schema._pg_expandarray(a)` (pgjdbc's primary-key query) as the rows it returns,
/// `named_struct('x', unnest(a), 'n', unnest(range(1, cardinality(a) + 1)))`, and a field of a
/// parenthesised value, `(k).x`, as `k['x']`, which DataFusion reads. Whether any was rewritten.
fn expandarray_as_unnest(statement: &mut Statement) -> bool {
    use datafusion::sql::sqlparser::ast::{AccessExpr, FunctionArg, FunctionArgExpr, FunctionArguments, Subscript};
    let mut changed = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(statement, |e| {
        match e {
            Expr::Function(f)
                if last_part(&f.name).as_deref() == Some("_pg_expandarray")
                    && let FunctionArguments::List(list) = &f.args
                    && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(array))] = list.args.as_slice() =>
            {
                let text = format!(
                    "named_struct('x', unnest({array}), 'n', unnest(range(1, CAST(cardinality({array}) AS BIGINT) + 1)))"
                );
                if let Some(rows) = expression(&text) {
                    *e = rows;
                    changed = true;
                }
            }
            Expr::CompoundFieldAccess { root, access_chain } if matches!(root.as_ref(), Expr::Nested(_)) => {
                for access in access_chain.iter_mut() {
                    if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                        let index = Expr::Value(Value::SingleQuotedString(field.value.clone()).into());
                        *access = AccessExpr::Subscript(Subscript::Index { index });
                        changed = true;
                    }
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// A catalogue query with `LIKE … ESCAPE 'c'` for another character than the backslash (which
/// DataFusion refuses when it runs; SQLAlchemy's schema listing sends `ESCAPE '/'`), with the
/// pattern translated to backslash escapes: backslashes doubled, then each `c` and the character
/// after it as a backslash and that character. Exact, so it is applied before planning. `None`
/// when there is none.
pub fn like_escapes_as_backslash(statement: &Statement) -> Option<Statement> {
    let mut statement = statement.clone();
    let mut changed = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut statement, |e| {
        if let Expr::Like { pattern, escape_char, .. } | Expr::ILike { pattern, escape_char, .. } = e
            && let Some(escape) = escape_char.as_ref()
            && let Value::SingleQuotedString(text) = &escape.value
            && text.chars().count() == 1
            && let Some(c) = text.chars().next().filter(|&c| c != '\\')
        {
            let class = match c {
                c if c.is_alphanumeric() => c.to_string(),
                '^' | ']' | '[' | '-' => format!("\\{c}"),
                '\'' => "['']".to_owned(),
                c => format!("[{c}]"),
            };
            let text = format!("regexp_replace(replace({pattern}, '\\', '\\\\'), '{class}(.)', '\\\\\\1', 'g')");
            if let Some(translated) = expression(&text) {
                **pattern = translated;
                *escape_char = None;
                changed = true;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    changed.then_some(statement)
}

/// `generate_subscripts(a, d)` beside `unnest(a)` (SQLAlchemy's key and index reflection) as
/// `unnest(range(1, cardinality(a) + 1))` when `d` is 1 and an empty range otherwise: the
/// subscripts of a one-dimensional array, which DataFusion unnests in step with `a`. Whether
/// any was rewritten.
fn subscripts_as_ranges(statement: &mut Statement) -> bool {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    let mut changed = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(statement, |e| {
        if let Expr::Function(f) = e
            && f.name.to_string().eq_ignore_ascii_case("generate_subscripts")
            && let FunctionArguments::List(list) = &f.args
            && let [
                FunctionArg::Unnamed(FunctionArgExpr::Expr(array)),
                FunctionArg::Unnamed(FunctionArgExpr::Expr(dim)),
            ] = list.args.as_slice()
        {
            // Arrays of the catalogue have one dimension: another dimension has no subscripts.
            let text = format!(
                "unnest(CASE WHEN {dim} = 1 THEN range(1, CAST(cardinality({array}) AS BIGINT) + 1) ELSE range(1, 1) END)"
            );
            if let Some(range) = expression(&text) {
                *e = range;
                changed = true;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// Settings that clients read with `current_setting` or from `pg_settings` (SQLAlchemy's table
/// reflection asks the default access method, pgjdbc the most keys an index takes), as this
/// server has them (the version as `version()` gives it); those a client sets itself (time zone,
/// encoding) it reads with SHOW.
const SETTINGS: &[(&str, &str)] = &[
    ("default_table_access_method", "heap"),
    ("server_encoding", "UTF8"),
    ("standard_conforming_strings", "on"),
    ("integer_datetimes", "on"),
    ("search_path", "\"$user\", public"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    ("server_version", "16.6"),
    ("server_version_num", "160006"),
    ("transaction_read_only", "on"),
    ("default_transaction_read_only", "on"),
    ("transaction_isolation", "read committed"),
];

/// Of [`SETTINGS`], those the server fixes, which `SHOW` answers from there (datafusion-postgres
/// would answer its own version string for `server_version`); the rest a client may set, and
/// SHOW reads them from its session.
const SERVER_SETTINGS: &[&str] = &[
    "default_table_access_method",
    "server_encoding",
    "standard_conforming_strings",
    "integer_datetimes",
    "max_identifier_length",
    "max_index_keys",
    "server_version",
    "server_version_num",
    "transaction_read_only",
    "default_transaction_read_only",
    "transaction_isolation",
];

/// `SHOW server_version` (or another of [`SERVER_SETTINGS`]) as the query that answers it,
/// `SELECT current_setting('server_version') AS server_version`; `None` for any other statement.
pub fn show_as_setting(statement: &Statement) -> Option<Statement> {
    let Statement::ShowVariable { variable } = statement else { return None };
    let [name] = variable.as_slice() else { return None };
    let name = name.value.to_ascii_lowercase();
    if !SERVER_SETTINGS.contains(&name.as_str()) {
        return None;
    }
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    let sql = format!("SELECT current_setting('{name}') AS {name}");
    Parser::parse_sql(&PostgreSqlDialect {}, &sql).ok()?.pop()
}

/// `pg_settings` with the bundled table's columns and a row of each of [`SETTINGS`] (pgjdbc reads
/// `max_index_keys` there before it lists foreign keys), the columns other than name and
/// setting NULL.
fn settings_table(schema: &SchemaRef) -> Result<Arc<dyn TableProvider>> {
    use datafusion::arrow::array::{ArrayRef, StringArray, new_null_array};
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "name" => Arc::new(SETTINGS.iter().map(|(n, _)| Some(*n)).collect::<StringArray>()) as ArrayRef,
            "setting" => Arc::new(SETTINGS.iter().map(|(_, v)| Some(*v)).collect::<StringArray>()) as ArrayRef,
            _ => new_null_array(f.data_type(), SETTINGS.len()),
        })
        .collect();
    let batch = datafusion::arrow::record_batch::RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Arc::new(MemTable::try_new(schema.clone(), vec![vec![batch]])?))
}

/// `current_setting(name [, missing_ok])`: one of [`SETTINGS`], NULL for any other.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrentSetting {
    signature: datafusion::logical_expr::Signature,
}

impl CurrentSetting {
    pub fn udf() -> datafusion::logical_expr::ScalarUDF {
        use datafusion::logical_expr::{Signature, TypeSignature, Volatility};
        let signature = Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Utf8]),
                TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
            ],
            Volatility::Stable,
        );
        datafusion::logical_expr::ScalarUDF::new_from_impl(CurrentSetting { signature })
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> Result<datafusion::logical_expr::ColumnarValue> {
        use datafusion::arrow::array::{Array, AsArray, StringArray};
        use datafusion::logical_expr::ColumnarValue;
        let setting = |name: &str| {
            let name = name.trim().to_ascii_lowercase();
            SETTINGS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        };
        let names = args.args[0].to_array(args.number_rows)?;
        let names = datafusion::arrow::compute::cast(&names, &DataType::Utf8)?;
        let names = names.as_string::<i32>();
        let out: StringArray =
            (0..names.len()).map(|i| if names.is_null(i) { None } else { setting(names.value(i)) }).collect();
        Ok(match &args.args[0] {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&out, 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(out)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses").remove(0)
    }

    #[test]
    fn catalogue_queries_are_rewritten_only_where_datafusion_cannot_take_them() {
        let sql = "SELECT a.attname, CASE WHEN a.atthasdef THEN (SELECT pg_get_expr(d.adbin, d.adrelid) \
                   FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid) ELSE NULL END AS dflt, \
                   (SELECT count(*) FROM pg_catalog.pg_type) AS types FROM pg_catalog.pg_attribute a";
        let rewritten = catalogue_rewrite(&parse(sql)).expect("rewritten").to_string();
        assert!(rewritten.contains("THEN NULL ELSE NULL"), "{rewritten}");
        assert!(rewritten.contains("(SELECT count(*) FROM pg_catalog.pg_type)"), "{rewritten}");
        // Fully qualified columns, as SQLAlchemy writes them.
        let sql = "SELECT CASE WHEN pg_catalog.pg_attribute.atthasdef THEN (SELECT pg_catalog.pg_attrdef.adbin \
                   FROM pg_catalog.pg_attrdef WHERE pg_catalog.pg_attrdef.adnum = pg_catalog.pg_attribute.attnum) END \
                   FROM pg_catalog.pg_attribute";
        let rewritten = catalogue_rewrite(&parse(sql)).expect("rewritten").to_string();
        assert!(!rewritten.contains("pg_attrdef"), "{rewritten}");
        // Its parameters stay, each with its type, so the statement's parameters keep their numbers.
        let sql = "SELECT a.attname, (SELECT json_build_object($1::VARCHAR, s.seqstart) FROM pg_catalog.pg_sequence s \
                   WHERE s.seqrelid = a.attrelid AND a.attidentity != $2) AS ident, $3::VARCHAR AS x \
                   FROM pg_catalog.pg_attribute a";
        let rewritten = catalogue_rewrite(&parse(sql)).expect("rewritten").to_string();
        assert!(
            rewritten.contains("CASE WHEN $1::VARCHAR IS NULL OR $2 IS NULL THEN NULL END AS ident"),
            "{rewritten}"
        );
        let sql =
            "SELECT unnest(i.indkey) AS attnum, generate_subscripts(i.indkey, 1) AS ord FROM pg_catalog.pg_index i";
        let rewritten = catalogue_rewrite(&parse(sql)).expect("rewritten").to_string();
        assert!(
            rewritten.contains(
                "unnest(CASE WHEN 1 = 1 THEN range(1, CAST(cardinality(i.indkey) AS BIGINT) + 1) ELSE range(1, 1) END) AS ord"
            ),
            "{rewritten}"
        );
        // pgjdbc's primary keys: the expanded array as rows of (x, n), its fields by name.
        let sql = "SELECT r.k FROM (SELECT (information_schema._pg_expandarray(i.indkey)).n AS seq, \
                   information_schema._pg_expandarray(i.indkey) AS k FROM pg_catalog.pg_index i) r WHERE (r.k).x = 1";
        let rewritten = catalogue_rewrite(&parse(sql)).expect("rewritten").to_string();
        assert!(!rewritten.contains("_pg_expandarray") && rewritten.contains("['x'] = 1"), "{rewritten}");
        assert!(
            rewritten.contains("'n', unnest(range(1, CAST(cardinality(i.indkey) AS BIGINT) + 1))))['n'] AS seq"),
            "{rewritten}"
        );
        // LIKE with another escape character: the same pattern in backslash escapes.
        let sql = "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'pg/_' || '%' ESCAPE '/'";
        let rewritten = like_escapes_as_backslash(&parse(sql)).expect("rewritten").to_string();
        assert!(
            rewritten.ends_with(r"NOT LIKE regexp_replace(replace('pg/_' || '%', '\', '\\'), '[/](.)', '\\\1', 'g')"),
            "{rewritten}"
        );
        assert!(like_escapes_as_backslash(&parse("SELECT 1 WHERE 'a' LIKE 'a'")).is_none());
        // pgjdbc's type list: a correlated subquery in WHERE reads NULL too.
        let sql = "SELECT t.typname FROM pg_catalog.pg_type t WHERE (t.typrelid = 0 OR (SELECT c.relkind = 'c' \
                   FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid))";
        let rewritten = catalogue_rewrite(&parse(sql)).expect("rewritten").to_string();
        assert!(rewritten.ends_with("WHERE (t.typrelid = 0 OR NULL)"), "{rewritten}");
        // pgjdbc's procedure list: unnamed columns that read alike get names of their own.
        let sql = "SELECT NULL AS a, p.proname, NULL, NULL, NULL FROM pg_catalog.pg_proc p";
        let rewritten = catalogue_rewrite(&parse(sql)).expect("rewritten").to_string();
        assert!(
            rewritten.contains("p.proname, NULL, NULL AS \"?column?4\", NULL AS \"?column?5\" FROM"),
            "{rewritten}"
        );
        // Nothing correlated: nothing to rewrite.
        assert!(catalogue_rewrite(&parse("SELECT (SELECT 1 FROM pg_catalog.pg_am x WHERE x.oid = 1)")).is_none());
    }

    #[test]
    fn show_answers_the_servers_settings_and_leaves_the_clients_to_their_session() {
        let shown = show_as_setting(&parse("SHOW server_version")).expect("rewritten").to_string();
        assert_eq!(shown, "SELECT current_setting('server_version') AS server_version");
        assert!(show_as_setting(&parse("SHOW MAX_INDEX_KEYS")).is_some());
        assert!(show_as_setting(&parse("SHOW search_path")).is_none());
        assert!(show_as_setting(&parse("SHOW TimeZone")).is_none());
        assert!(show_as_setting(&parse("SELECT 1")).is_none());
        // Each is one of the settings current_setting answers.
        for name in SERVER_SETTINGS {
            assert!(SETTINGS.iter().any(|(n, _)| n == name), "{name}");
        }
    }
}

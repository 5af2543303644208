//! What may run: read-only statements only, and bounded in size and nesting before anything is planned.

use datafusion::sql::parser::{DFParserBuilder, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::SqlError;

/// Limits on one statement, checked on its tokens before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of SQL text.
    pub max_bytes: usize,
    /// Tokens.
    pub max_tokens: usize,
    /// Boolean and arithmetic operators (`a OR b OR c …` chains plan as deep trees).
    pub max_operators: usize,
    /// UNION / INTERSECT / EXCEPT.
    pub max_set_operations: usize,
    /// Nesting of parentheses (and the parser's recursion limit).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 1 << 20, max_tokens: 100_000, max_operators: 2_000, max_set_operations: 256, max_depth: 64 }
    }
}

fn too_big(what: &str, found: usize, limit: usize) -> SqlError {
    SqlError::Refused(format!("the query has {found} {what}; the limit is {limit}"))
}

/// Checks the size of a statement's text before it is parsed.
pub fn check_size(sql: &str, limits: &Limits) -> Result<(), SqlError> {
    if sql.len() > limits.max_bytes {
        return Err(too_big("bytes", sql.len(), limits.max_bytes));
    }
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| SqlError::Parse(format!("cannot read the SQL: {e}")))?;
    let mut counted = 0;
    let mut operators = 0;
    let mut set_operations = 0;
    let mut depth = 0usize;
    let mut deepest = 0;
    for token in &tokens {
        match token {
            Token::Whitespace(_) => continue,
            Token::LParen | Token::LBracket => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::RParen | Token::RBracket => depth = depth.saturating_sub(1),
            Token::Word(word) => match word.keyword {
                Keyword::AND | Keyword::OR | Keyword::NOT => operators += 1,
                Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT => set_operations += 1,
                _ => {}
            },
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq => operators += 1,
            _ => {}
        }
        counted += 1;
    }
    if counted > limits.max_tokens {
        return Err(too_big("tokens", counted, limits.max_tokens));
    }
    if operators > limits.max_operators {
        let hint = " (a long list of alternatives reads better as `col IN (…)`)";
        return Err(SqlError::Refused(format!(
            "the query has {operators} operators; the limit is {}{hint}",
            limits.max_operators
        )));
    }
    if set_operations > limits.max_set_operations {
        return Err(too_big("UNION / INTERSECT / EXCEPT", set_operations, limits.max_set_operations));
    }
    if deepest > limits.max_depth {
        return Err(too_big("levels of nested parentheses", deepest, limits.max_depth));
    }
    Ok(())
}

/// What kind of statement this is, in words, for a refusal.
fn kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    words.join(" ").to_uppercase()
}

/// Parses SQL text into statements and refuses anything but queries (SELECT, WITH, VALUES),
/// EXPLAIN of a query, DESCRIBE of a table, and SHOW TABLES / SHOW COLUMNS.
pub fn read_only_statements(sql: &str, limits: &Limits) -> Result<Vec<DfStatement>, SqlError> {
    check_size(sql, limits)?;
    let dialect = GenericDialect {};
    let mut parser = DFParserBuilder::new(sql)
        .with_dialect(&dialect)
        .with_recursion_limit(limits.max_depth)
        .build()
        .map_err(|e| SqlError::Parse(e.to_string()))?;
    let statements = parser.parse_statements().map_err(|e| SqlError::Parse(e.to_string()))?;
    let mut allowed = Vec::new();
    for statement in statements {
        match &statement {
            DfStatement::Statement(inner) => match inner.as_ref() {
                Statement::Query(_)
                | Statement::ShowTables { .. }
                | Statement::ShowColumns { .. }
                | Statement::ExplainTable { .. } => {}
                Statement::Explain { statement, .. } if matches!(statement.as_ref(), Statement::Query(_)) => {}
                other => {
                    return Err(SqlError::Refused(format!(
                        "{} statements are refused: the warehouse is read-only here; only SELECT / WITH / \
                         VALUES queries, EXPLAIN of a query, DESCRIBE and SHOW TABLES / SHOW COLUMNS run",
                        kind(other)
                    )));
                }
            },
            DfStatement::Explain(explain) if matches!(explain.statement.as_ref(), DfStatement::Statement(s) if matches!(s.as_ref(), Statement::Query(_))) =>
                {}
            DfStatement::CopyTo(_) => {
                return Err(SqlError::Refused("COPY statements are refused: results leave through --out".into()));
            }
            _ => {
                return Err(SqlError::Refused(
                    "this statement is refused: only SELECT / WITH / VALUES queries run here".into(),
                ));
            }
        }
        allowed.push(statement);
    }
    if allowed.is_empty() {
        return Err(SqlError::Parse("no statement in the SQL text".into()));
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sql: &str) -> bool {
        matches!(read_only_statements(sql, &Limits::default()), Err(SqlError::Refused(_)))
    }

    #[test]
    fn queries_pass_and_everything_else_is_refused() {
        for sql in [
            "SELECT 1",
            "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
            "VALUES (1), (2)",
            "EXPLAIN SELECT 1",
            "SHOW TABLES",
            "DESCRIBE calls",
            "SELECT 1; SELECT 2",
        ] {
            assert!(read_only_statements(sql, &Limits::default()).is_ok(), "{sql}");
        }
        for sql in [
            "CREATE TABLE t (a INT)",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc'",
            "DROP TABLE calls",
            "INSERT INTO calls VALUES (1)",
            "DELETE FROM calls",
            "UPDATE calls SET district = 'x'",
            "COPY calls TO '/tmp/x.parquet'",
            "SET datafusion.execution.batch_size = 1",
            "CREATE VIEW v AS SELECT 1",
            "SELECT 1; DROP TABLE calls",
            "EXPLAIN INSERT INTO calls VALUES (1)",
        ] {
            assert!(refused(sql), "{sql}");
        }
    }

    #[test]
    fn oversized_statements_are_refused_before_parsing() {
        let ors = (0..5000).map(|i| format!("x = {i}")).collect::<Vec<_>>().join(" OR ");
        assert!(refused(&format!("SELECT 1 WHERE {ors}")));
        let unions = vec!["SELECT 1"; 1000].join(" UNION ALL ");
        assert!(refused(&unions));
        let nested = format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500));
        assert!(refused(&nested));
        assert!(refused(&format!("SELECT '{}'", "x".repeat(2 << 20))));
    }
}

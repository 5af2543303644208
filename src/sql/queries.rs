//! Named queries: the trusted SQL of `queries/*.sql` (embedded at build time), their headers
//! (name, description, parameters with defaults) and safe parameter substitution.

use std::collections::BTreeMap;

use super::SqlError;

include!(concat!(env!("OUT_DIR"), "/named_queries.rs"));

/// A parameter of a named query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Name, used as `{{name}}` in the SQL.
    pub name: String,
    /// Default value.
    pub default: String,
    /// What it means.
    pub description: String,
}

/// A named query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedQuery {
    /// Name (the file stem).
    pub name: String,
    /// One line on what it shows.
    pub description: String,
    /// Parameters, in header order.
    pub params: Vec<Param>,
    /// The SQL text, header included.
    pub sql: String,
}

fn header_error(name: &str, line: usize, reason: impl std::fmt::Display) -> SqlError {
    SqlError::Query(format!("queries/{name}.sql line {line}: {reason}"))
}

/// Parses a query file: `-- name:`, `-- description:` and `-- param: NAME = DEFAULT | description` lines.
pub fn parse(stem: &str, text: &str) -> Result<NamedQuery, SqlError> {
    let mut name = None;
    let mut description = String::new();
    let mut params: Vec<Param> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(comment) = line.trim().strip_prefix("--") else { continue };
        let comment = comment.trim();
        if let Some(value) = comment.strip_prefix("name:") {
            name = Some(value.trim().to_owned());
        } else if let Some(value) = comment.strip_prefix("description:") {
            description = value.trim().to_owned();
        } else if let Some(value) = comment.strip_prefix("param:") {
            let (spec, about) = value.split_once('|').unwrap_or((value, ""));
            let (param, default) = spec
                .split_once('=')
                .ok_or_else(|| header_error(stem, i + 1, "a parameter is written NAME = DEFAULT | description"))?;
            let param = param.trim();
            if param.is_empty() || !param.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(header_error(stem, i + 1, format!("bad parameter name {param:?}")));
            }
            params.push(Param {
                name: param.to_owned(),
                default: default.trim().to_owned(),
                description: about.trim().to_owned(),
            });
        }
    }
    let name = name.ok_or_else(|| header_error(stem, 1, "no `-- name:` line"))?;
    if name != stem {
        return Err(header_error(stem, 1, format!("the name {name:?} differs from the file name")));
    }
    let query = NamedQuery { name, description, params, sql: text.to_owned() };
    // Every placeholder is a declared parameter.
    for placeholder in placeholders(text) {
        if !query.params.iter().any(|p| p.name == placeholder) {
            return Err(header_error(stem, 1, format!("{{{{{placeholder}}}}} is used but not declared")));
        }
    }
    Ok(query)
}

fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    found
}

/// Every named query, by name.
pub fn all() -> Result<BTreeMap<String, NamedQuery>, SqlError> {
    NAMED_QUERY_FILES.iter().map(|(stem, text)| parse(stem, text).map(|q| (q.name.clone(), q))).collect()
}

/// A named query by name.
pub fn find(name: &str) -> Result<NamedQuery, SqlError> {
    all()?.remove(name).ok_or_else(|| {
        let names: Vec<String> = NAMED_QUERY_FILES.iter().map(|(n, _)| (*n).to_owned()).collect();
        SqlError::Query(format!("no named query {name:?}; there are: {}", names.join(", ")))
    })
}

/// A value as a SQL string literal (quotes doubled), so a parameter can never end its string.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

impl NamedQuery {
    /// The SQL with parameters substituted (given values, else defaults) as string literals.
    pub fn bind(&self, values: &[(String, String)]) -> Result<String, SqlError> {
        for (name, _) in values {
            if !self.params.iter().any(|p| &p.name == name) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                return Err(SqlError::Query(format!(
                    "{} has no parameter {name:?} (it has: {})",
                    self.name,
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                )));
            }
        }
        let mut sql = self.sql.clone();
        for param in &self.params {
            let value = values.iter().rev().find(|(n, _)| n == &param.name).map_or(param.default.as_str(), |(_, v)| v);
            sql = sql.replace(&format!("{{{{{}}}}}", param.name), &literal(value));
        }
        Ok(sql.trim().trim_end_matches(';').to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_file_parses_and_binds_its_defaults() {
        let queries = all().unwrap();
        assert!(!queries.is_empty());
        for query in queries.values() {
            let sql = query.bind(&[]).unwrap();
            assert!(!sql.contains("{{"), "{}: a placeholder is left", query.name);
            assert!(!query.description.is_empty(), "{} has no description", query.name);
        }
    }

    #[test]
    fn parameters_are_quoted_and_unknown_ones_refused() {
        let query = parse("q", "-- name: q\n-- param: district = | a district\nSELECT {{district}} AS d").unwrap();
        assert_eq!(
            query.bind(&[("district".into(), "x' OR '1'='1".into())]).unwrap(),
            "-- name: q\n-- param: district = | a district\nSELECT 'x'' OR ''1''=''1' AS d"
        );
        assert!(query.bind(&[("other".into(), "1".into())]).is_err());
        assert!(parse("q", "-- name: q\nSELECT {{undeclared}}").is_err());
        assert!(parse("q", "-- name: other\nSELECT 1").is_err());
    }
}

//! The call-category taxonomy (`data/taxonomy.csv`, a copy of the contract's), compiled into the crate.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::enums::Platform;

/// The taxonomy file shipped with the crate.
pub const TAXONOMY_CSV: &str = include_str!("../../data/taxonomy.csv");

/// One category of the taxonomy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Position in the taxonomy file, a compact id.
    pub index: u16,
    /// Dotted code such as `DISPUTE.MEDICAL_BEAUTY`.
    pub code: String,
    /// Chinese name, e.g. `医美纠纷`.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Whether the category is a police matter (a "non-police" call is one that is not).
    pub police_matter: bool,
    /// Platform that normally handles it.
    pub default_platform: Platform,
    /// Unit that normally handles it, if any.
    pub default_department: Option<String>,
}

impl Category {
    /// The group before the dot (`DISPUTE` for `DISPUTE.LABOR`).
    pub fn group(&self) -> &str {
        self.code.split('.').next().unwrap_or(&self.code)
    }

    /// Whether this is an `INVALID.*` category (a prank or misdial).
    pub fn is_invalid(&self) -> bool {
        self.group() == "INVALID"
    }
}

/// The whole taxonomy with look-up by code or Chinese name.
#[derive(Debug)]
pub struct Taxonomy {
    categories: Vec<Category>,
    by_name: HashMap<String, u16>,
}

/// Why the taxonomy file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("taxonomy line {line}: {reason}")]
pub struct TaxonomyError {
    /// 1-based line of the taxonomy file.
    pub line: u64,
    /// What is wrong there.
    pub reason: String,
}

impl Taxonomy {
    /// Parses a taxonomy in the contract's CSV layout.
    pub fn parse(text: &str) -> Result<Taxonomy, TaxonomyError> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| TaxonomyError { line: 1, reason: e.to_string() })?.clone();
        let expected = ["code", "name_zh", "name_en", "police_matter", "default_platform", "default_department"];
        if headers.iter().collect::<Vec<_>>() != expected {
            return Err(TaxonomyError { line: 1, reason: format!("header must be {}", expected.join(",")) });
        }
        let mut categories = Vec::new();
        let mut by_name = HashMap::new();
        for (i, record) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let record = record.map_err(|e| TaxonomyError { line, reason: e.to_string() })?;
            let field = |k: usize| record.get(k).unwrap_or("").trim().to_string();
            let police_matter = match field(3).as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(TaxonomyError {
                        line,
                        reason: format!("police_matter must be true or false, not {other:?}"),
                    });
                }
            };
            let default_platform = Platform::parse(&field(4))
                .ok_or_else(|| TaxonomyError { line, reason: format!("unknown default_platform {:?}", field(4)) })?;
            let department = field(5);
            let index = u16::try_from(categories.len())
                .map_err(|_| TaxonomyError { line, reason: "too many categories".into() })?;
            let category = Category {
                index,
                code: field(0),
                name_zh: field(1),
                name_en: field(2),
                police_matter,
                default_platform,
                default_department: (!department.is_empty()).then_some(department),
            };
            for name in [&category.code, &category.name_zh] {
                if by_name.insert(name.clone(), index).is_some() {
                    return Err(TaxonomyError { line, reason: format!("duplicate name {name}") });
                }
            }
            categories.push(category);
        }
        Ok(Taxonomy { categories, by_name })
    }

    /// The taxonomy compiled into the crate.
    pub fn builtin() -> &'static Taxonomy {
        static BUILTIN: LazyLock<Taxonomy> = LazyLock::new(|| {
            // The file is part of the source tree and checked by a unit test.
            Taxonomy::parse(TAXONOMY_CSV).expect("data/taxonomy.csv is valid")
        });
        &BUILTIN
    }

    /// Finds a category by its code or its Chinese name.
    pub fn get(&self, code_or_name: &str) -> Option<&Category> {
        self.by_name.get(code_or_name.trim()).map(|&i| &self.categories[usize::from(i)])
    }

    /// The category with this compact id.
    pub fn by_index(&self, index: u16) -> Option<&Category> {
        self.categories.get(usize::from(index))
    }

    /// All categories in file order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_taxonomy_parses_and_finds_by_code_and_name() {
        let taxonomy = Taxonomy::builtin();
        assert_eq!(taxonomy.categories().len(), 40);
        let beauty = taxonomy.get("医美纠纷").unwrap();
        assert_eq!(beauty.code, "DISPUTE.MEDICAL_BEAUTY");
        assert!(!beauty.police_matter);
        assert_eq!(taxonomy.get("DISPUTE.MEDICAL_BEAUTY"), Some(beauty));
        assert!(taxonomy.get("CRIM.THEFT").unwrap().police_matter);
        assert!(taxonomy.get("INVALID.PRANK").unwrap().is_invalid());
        assert_eq!(taxonomy.get("INVALID.PRANK").unwrap().default_department, None);
        assert!(taxonomy.get("NOPE").is_none());
    }

    #[test]
    fn shipped_copy_matches_the_contract_when_it_is_beside_the_repo() {
        let contract = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data-contract/taxonomy.csv");
        if let Ok(text) = std::fs::read_to_string(contract) {
            assert_eq!(text, TAXONOMY_CSV, "data/taxonomy.csv drifted from the contract");
        }
    }

    #[test]
    fn malformed_taxonomy_names_the_line() {
        let bad = "code,name_zh,name_en,police_matter,default_platform,default_department\n\
                   A.B,甲,a,maybe,110,\n";
        let err = Taxonomy::parse(bad).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("police_matter"));
    }
}

//! The counterparty keys ingest wrote, read back for the stages that group by organisation.

use std::collections::HashMap;

use super::{Session, SqlError};
use crate::catalog::TextColumn;
use crate::text::{Counterparty, CounterpartyReader};

/// Every counterparty spelling of the analyst `calls` table that names an organisation, with its
/// matching key: `counterparty_key` where ingest wrote one. Rows ingested before ingest normalised
/// counterparties are read here the way ingest reads them now, with the city's place names as
/// prefixes and the prefix most of the warehouse's organisations carry.
pub fn organisation_keys(session: &Session) -> Result<HashMap<String, String>, SqlError> {
    let (_, batches) = session.collect(
        "SELECT DISTINCT counterparty, counterparty_kind, counterparty_key FROM calls WHERE counterparty IS NOT NULL",
    )?;
    let mut keys = HashMap::new();
    let mut unread: Vec<String> = Vec::new();
    for batch in &batches {
        let columns: Vec<TextColumn<'_>> = (0..3)
            .map(|i| TextColumn::of(batch.column(i)).map_err(|e| SqlError::Engine(e.to_string())))
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            let Some(spelling) = columns[0].get(row) else { continue };
            match (columns[1].get(row), columns[2].get(row)) {
                (Some("organisation"), Some(key)) => {
                    keys.insert(spelling.to_owned(), key.to_owned());
                }
                (Some(_), _) => {}
                (None, _) => unread.push(spelling.to_owned()),
            }
        }
    }
    if !unread.is_empty() {
        let city = session.city();
        let districts: Vec<&str> = city.districts.iter().map(|d| d.name.as_str()).collect();
        let spellings: Vec<&str> = unread.iter().map(String::as_str).collect();
        let reader = CounterpartyReader::new(districts, &spellings, 0.05).with_places(city.place_prefixes());
        for spelling in &unread {
            if let Counterparty::Organisation(key) = reader.read(spelling) {
                keys.entry(spelling.clone()).or_insert(key);
            }
        }
    }
    Ok(keys)
}

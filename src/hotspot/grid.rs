//! The cells of a hotspot cube: squares of a given side in metres (the `grid_cell` SQL function's
//! grid) or H3 hexagons of a resolution, each with its neighbours, outline, centre and id.

use std::fmt;
use std::str::FromStr;

use h3o::{CellIndex, LatLng, Resolution};

use crate::geo::{grid_cell_bounds, grid_cell_index};

/// A tiling of the map into cells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Grid {
    /// Squares of this side in metres.
    Square {
        /// Side.
        metres: f64,
    },
    /// H3 hexagons (and the twelve pentagons) of this resolution.
    H3 {
        /// Resolution, 0 (coarsest) to 15.
        resolution: Resolution,
    },
}

/// A cell: a square's row and column packed into 64 bits, or an H3 index.
pub type CellKey = u64;

/// Why a `--cell` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--cell {text}: {reason}")]
pub struct GridParseError {
    text: String,
    reason: &'static str,
}

impl FromStr for Grid {
    type Err = GridParseError;

    /// `500m` (squares of 50 to 10,000 m) or `h3:RES` (resolution 5 to 12, 250 m² to 250 km²).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = |reason| GridParseError { text: text.to_owned(), reason };
        if let Some(resolution) = text.strip_prefix("h3:") {
            let resolution: u8 = resolution.parse().map_err(|_| refuse("give an H3 resolution such as h3:9"))?;
            if !(5..=12).contains(&resolution) {
                return Err(refuse("H3 resolution between 5 (about 250 km²) and 12 (about 300 m²)"));
            }
            let resolution = Resolution::try_from(resolution).map_err(|_| refuse("not an H3 resolution"))?;
            return Ok(Grid::H3 { resolution });
        }
        let metres: f64 = text
            .strip_suffix('m')
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| refuse("give a square side such as 500m, or an H3 resolution such as h3:9"))?;
        if !(50.0..=10_000.0).contains(&metres) {
            return Err(refuse("square cells between 50m and 10000m"));
        }
        Ok(Grid::Square { metres })
    }
}

impl fmt::Display for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grid::Square { metres } => write!(f, "{}m", metres.round() as i64),
            Grid::H3 { resolution } => write!(f, "h3:{}", u8::from(*resolution)),
        }
    }
}

/// Packs a square's row and column into a key.
pub fn square_key(row: i32, column: i32) -> CellKey {
    (u64::from(row as u32) << 32) | u64::from(column as u32)
}

/// A square key's row and column.
pub fn square_of(key: CellKey) -> (i32, i32) {
    ((key >> 32) as u32 as i32, key as u32 as i32)
}

impl Grid {
    /// The cell holding a point, if the point is on the map.
    pub fn cell_of(&self, lon: f64, lat: f64) -> Option<CellKey> {
        match self {
            Grid::Square { metres } => grid_cell_index(lon, lat, *metres).map(|(r, c)| square_key(r, c)),
            Grid::H3 { resolution } => (lat.abs() <= 90.0 && lon.abs() <= 180.0)
                .then(|| LatLng::new(lat, lon).ok())
                .flatten()
                .map(|p| u64::from(p.to_cell(*resolution))),
        }
    }

    /// The cells within `rings` steps of a cell, the cell itself included (3 × 3 squares or 7
    /// hexagons for one ring).
    pub fn neighbourhood(&self, cell: CellKey, rings: u32) -> Vec<CellKey> {
        match self {
            Grid::Square { .. } => {
                let (row, column) = square_of(cell);
                let rings = rings as i32;
                let mut out = Vec::with_capacity(((2 * rings + 1) * (2 * rings + 1)) as usize);
                for dr in -rings..=rings {
                    for dc in -rings..=rings {
                        out.push(square_key(row + dr, column + dc));
                    }
                }
                out
            }
            Grid::H3 { .. } => match CellIndex::try_from(cell) {
                Ok(index) => index.grid_disk::<Vec<_>>(rings).into_iter().map(u64::from).collect(),
                Err(_) => vec![cell],
            },
        }
    }

    /// The cell's outline (lon, lat), closed (the first point repeated at the end).
    pub fn outline(&self, cell: CellKey) -> Vec<(f64, f64)> {
        match self {
            Grid::Square { metres } => {
                let (row, column) = square_of(cell);
                let (west, south, east, north) = grid_cell_bounds(row, column, *metres);
                vec![(west, south), (east, south), (east, north), (west, north), (west, south)]
            }
            Grid::H3 { .. } => {
                let Ok(index) = CellIndex::try_from(cell) else { return Vec::new() };
                let mut ring: Vec<(f64, f64)> = index.boundary().iter().map(|p| (p.lng(), p.lat())).collect();
                if let Some(&first) = ring.first() {
                    ring.push(first);
                }
                ring
            }
        }
    }

    /// The cell's centre (lon, lat).
    pub fn centre(&self, cell: CellKey) -> (f64, f64) {
        match self {
            Grid::Square { .. } => {
                let outline = self.outline(cell);
                ((outline[0].0 + outline[2].0) / 2.0, (outline[0].1 + outline[2].1) / 2.0)
            }
            Grid::H3 { .. } => CellIndex::try_from(cell).map(LatLng::from).map_or((0.0, 0.0), |p| (p.lng(), p.lat())),
        }
    }

    /// The cell's id: `500m:ROW:COLUMN` (as the `grid_cell` SQL function gives it) or `h3:INDEX`.
    pub fn id(&self, cell: CellKey) -> String {
        match self {
            Grid::Square { metres } => {
                let (row, column) = square_of(cell);
                format!("{}m:{row}:{column}", metres.round() as i64)
            }
            Grid::H3 { .. } => {
                format!("h3:{}", CellIndex::try_from(cell).map_or_else(|_| "?".to_owned(), |c| c.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::METRES_PER_DEGREE;

    #[test]
    fn cell_values_parse_and_print_back() {
        for text in ["500m", "250m", "h3:9", "h3:5"] {
            assert_eq!(text.parse::<Grid>().unwrap().to_string(), text);
        }
        for bad in ["500", "h3:x", "h3:15", "10m", "20000m", "hex"] {
            let error = bad.parse::<Grid>().unwrap_err().to_string();
            assert!(error.starts_with(&format!("--cell {bad}: ")), "{error}");
        }
    }

    #[test]
    fn a_cell_holds_its_centre_and_its_neighbourhood_surrounds_it() {
        for grid in [Grid::Square { metres: 500.0 }, "h3:9".parse().unwrap()] {
            let cell = grid.cell_of(111.3, 30.7).unwrap();
            let (lon, lat) = grid.centre(cell);
            assert_eq!(grid.cell_of(lon, lat), Some(cell), "{grid}");
            let outline = grid.outline(cell);
            assert_eq!(outline.first(), outline.last());
            let near = grid.neighbourhood(cell, 1);
            assert!(near.contains(&cell));
            assert_eq!(near.len(), if matches!(grid, Grid::Square { .. }) { 9 } else { 7 });
            // Every neighbour is a different cell next to this one.
            for &other in near.iter().filter(|&&c| c != cell) {
                let (x, y) = grid.centre(other);
                let metres = ((x - lon).powi(2) * 0.74 + (y - lat).powi(2)).sqrt() * METRES_PER_DEGREE;
                assert!(metres > 100.0 && metres < 800.0, "{grid}: {metres} m");
            }
        }
        assert_eq!(Grid::Square { metres: 500.0 }.id(square_key(-3, 7)), "500m:-3:7");
        assert!(Grid::Square { metres: 500.0 }.cell_of(f64::NAN, 30.0).is_none());
        assert!("h3:9".parse::<Grid>().unwrap().cell_of(111.0, 95.0).is_none());
    }
}

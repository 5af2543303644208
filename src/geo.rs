//! Geometry shared by every stage: the square grid cells calls are counted in, and distances on the ground.

/// Metres per degree of latitude.
pub const METRES_PER_DEGREE: f64 = 111_320.0;

/// Width in degrees of the longitude zones cells are numbered in (China's 3° Gauss–Krüger zones:
/// zone n is centred on 3n° E).
const ZONE_DEGREES: f64 = 3.0;

/// Columns set aside for each zone (a zone is at most 167 km wide either side of its centre, so
/// even 1 m cells fit).
const ZONE_COLUMNS: f64 = 1_000_000.0;

/// The (row, column) of the cell holding a point in a grid of `metres`-sized squares: rows are
/// bands of latitude; within a band, columns are measured east from the central meridian of the
/// point's 3° zone at the band's middle latitude, so cells are square on the ground and a column
/// lines up with the columns of the rows above and below it (measured from the prime meridian,
/// columns at 111° E would shift a whole cell every row). The column is `zone × 1,000,000 +
/// columns east of the zone's centre`. `None` for a point off the map or a size under a metre.
pub fn grid_cell_index(lon: f64, lat: f64, metres: f64) -> Option<(i32, i32)> {
    if !(lon.is_finite() && lat.is_finite() && metres.is_finite())
        || metres < 1.0
        || lat.abs() > 89.0
        || lon.abs() > 180.0
    {
        return None;
    }
    let row = (lat * METRES_PER_DEGREE / metres).floor();
    let middle = (row + 0.5) * metres / METRES_PER_DEGREE;
    let zone = (lon / ZONE_DEGREES).round();
    let east = ((lon - zone * ZONE_DEGREES) * METRES_PER_DEGREE * middle.to_radians().cos() / metres).floor();
    Some((row as i32, (zone * ZONE_COLUMNS + east) as i32))
}

/// The bounds (west, south, east, north) in degrees of a cell numbered by [`grid_cell_index`].
pub fn grid_cell_bounds(row: i32, column: i32, metres: f64) -> (f64, f64, f64, f64) {
    let south = f64::from(row) * metres / METRES_PER_DEGREE;
    let north = (f64::from(row) + 1.0) * metres / METRES_PER_DEGREE;
    let middle = (f64::from(row) + 0.5) * metres / METRES_PER_DEGREE;
    let zone = (f64::from(column) / ZONE_COLUMNS).round();
    let east = f64::from(column) - zone * ZONE_COLUMNS;
    let per_degree = METRES_PER_DEGREE * middle.to_radians().cos();
    let west = zone * ZONE_DEGREES + east * metres / per_degree;
    (west, south, west + metres / per_degree, north)
}

/// The id of that cell, as the `grid_cell` SQL function gives it (`500m:ROW:COLUMN`).
pub fn grid_cell(lon: f64, lat: f64, metres: f64) -> Option<String> {
    let (row, column) = grid_cell_index(lon, lat, metres)?;
    Some(format!("{}m:{row}:{column}", metres.round() as i64))
}

/// Distance in metres between two points (equirectangular; exact enough within a city).
pub fn metres_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    let mid = ((a.1 + b.1) / 2.0).to_radians();
    let dx = (a.0 - b.0) * mid.cos() * METRES_PER_DEGREE;
    let dy = (a.1 - b.1) * METRES_PER_DEGREE;
    (dx * dx + dy * dy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_cells_are_about_the_requested_size_on_the_ground() {
        let a = grid_cell(111.29, 30.70, 500.0).unwrap();
        assert!(a.starts_with("500m:"), "{a}");
        // 300 m east stays within one or two cells; 2 km east is another cell.
        let east = |metres: f64| 111.29 + metres / (METRES_PER_DEGREE * 30.70f64.to_radians().cos());
        assert_ne!(grid_cell(east(2000.0), 30.70, 500.0).unwrap(), a);
        assert_eq!(grid_cell(111.29, 30.70, 0.5), None);
        assert_eq!(grid_cell(f64::NAN, 30.70, 500.0), None);
    }

    #[test]
    fn grid_columns_line_up_from_row_to_row() {
        // Points on one meridian, 500 m apart north to south, fall in one column.
        let columns: std::collections::BTreeSet<i32> = (0..200)
            .map(|i| grid_cell_index(111.2937, 30.2 + f64::from(i) * 500.0 / METRES_PER_DEGREE, 500.0).unwrap().1)
            .collect();
        assert!(columns.len() <= 2, "{columns:?}");
        // A cell's bounds hold the point, on either side of a zone's centre and of the prime meridian.
        for (lon, lat) in [(111.2937, 30.71), (110.9, 30.7), (-0.3, 51.5), (179.9, -40.0)] {
            let (row, column) = grid_cell_index(lon, lat, 500.0).unwrap();
            let (w, s, e, n) = grid_cell_bounds(row, column, 500.0);
            assert!(w <= lon && lon < e && s <= lat && lat < n, "{lon} {lat}: {w} {s} {e} {n}");
            assert!(((e - w) * (((s + n) / 2.0).to_radians().cos()) * METRES_PER_DEGREE - 500.0).abs() < 1e-6);
        }
    }
}

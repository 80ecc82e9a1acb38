//! H3 geography for proof of coverage: asserted locations as H3 cells, distances between
//! hotspots, hex density scaling and coverage maps.

pub mod coverage;
pub mod density;
pub mod space;

pub use coverage::coverage_geojson;
pub use density::{
    density_scales, hip104_coarse_levels, hip104_levels, shared_density_scales, DensityLevel,
};
pub use h3o::{CellIndex, Resolution};

use geo::{Distance, Haversine, Point};

/// Resolution at which hotspots assert their location.
pub const ASSERT_RESOLUTION: Resolution = Resolution::Twelve;

/// Errors of location handling.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeoError {
    /// Latitude or longitude outside the globe, or not a number.
    #[error("invalid coordinates lat={lat} lon={lon}")]
    Coordinates {
        /// Latitude in degrees.
        lat: f64,
        /// Longitude in degrees.
        lon: f64,
    },
    /// A 64-bit value that is not an H3 cell index.
    #[error("{0:#x} is not an H3 cell index")]
    Cell(u64),
    /// A cell coarser than the resolution asked for.
    #[error("cell is coarser than resolution {0}")]
    Resolution(u8),
}

/// The H3 cell (at [`ASSERT_RESOLUTION`]) that holds a point.
pub fn cell_at(lat: f64, lon: f64) -> Result<CellIndex, GeoError> {
    let invalid = GeoError::Coordinates { lat, lon };
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid);
    }
    let point = h3o::LatLng::new(lat, lon).map_err(|_| invalid)?;
    Ok(point.to_cell(ASSERT_RESOLUTION))
}

/// Parses a 64-bit H3 cell index as carried on the wire.
pub fn cell_from_u64(index: u64) -> Result<CellIndex, GeoError> {
    CellIndex::try_from(index).map_err(|_| GeoError::Cell(index))
}

/// Latitude and longitude of a cell's centre, in degrees.
pub fn centre(cell: CellIndex) -> (f64, f64) {
    let point = h3o::LatLng::from(cell);
    (point.lat(), point.lng())
}

/// Great-circle distance between two cells' centres, in metres.
pub fn distance_m(a: CellIndex, b: CellIndex) -> f64 {
    let (a_lat, a_lon) = centre(a);
    let (b_lat, b_lon) = centre(b);
    distance_between_m((a_lat, a_lon), (b_lat, b_lon))
}

/// Great-circle distance between two `(lat, lon)` points in degrees, in metres.
pub fn distance_between_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
}

/// The parent of `cell` at `resolution`.
pub fn parent(cell: CellIndex, resolution: Resolution) -> Result<CellIndex, GeoError> {
    cell.parent(resolution)
        .ok_or(GeoError::Resolution(u8::from(resolution)))
}

/// H3 grid distance between the parents of two cells at `resolution`; `None` when H3 cannot
/// measure it (cells far apart or across a pentagon distortion).
pub fn grid_distance(a: CellIndex, b: CellIndex, resolution: Resolution) -> Option<i32> {
    let a = a.parent(resolution)?;
    let b = b.parent(resolution)?;
    a.grid_distance(b).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_maps_to_a_cell_whose_centre_is_near_it() {
        let cell = cell_at(37.7749, -122.4194).unwrap();
        assert_eq!(cell.resolution(), ASSERT_RESOLUTION);
        let (lat, lon) = centre(cell);
        assert!(distance_between_m((lat, lon), (37.7749, -122.4194)) < 20.0);
    }

    #[test]
    fn distances_match_known_city_pairs() {
        // San Francisco City Hall to Oakland City Hall: about 13.4 km.
        let sf = cell_at(37.77929, -122.41924).unwrap();
        let oakland = cell_at(37.80528, -122.27240).unwrap();
        let d = distance_m(sf, oakland);
        assert!((12_900.0..13_900.0).contains(&d), "{d}");
    }

    #[test]
    fn invalid_input_is_refused() {
        assert!(cell_at(91.0, 0.0).is_err());
        assert!(cell_at(f64::NAN, 0.0).is_err());
        assert!(cell_from_u64(0).is_err());
        let cell = cell_at(10.0, 10.0).unwrap();
        assert_eq!(cell_from_u64(u64::from(cell)).unwrap(), cell);
    }

    #[test]
    fn neighbours_are_one_apart_at_their_resolution() {
        let cell = cell_at(52.52, 13.405).unwrap();
        let res11 = parent(cell, Resolution::Eleven).unwrap();
        let neighbour = res11
            .grid_disk::<Vec<_>>(1)
            .into_iter()
            .find(|c| *c != res11)
            .unwrap();
        let child = neighbour.center_child(ASSERT_RESOLUTION).unwrap();
        assert_eq!(grid_distance(cell, child, Resolution::Eleven), Some(1));
        assert_eq!(grid_distance(cell, cell, Resolution::Eleven), Some(0));
    }
}

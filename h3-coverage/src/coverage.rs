//! Coverage maps: H3 cells as GeoJSON.

use h3o::CellIndex;
use serde_json::{json, Map, Value};

/// The boundary of `cell` as a closed GeoJSON ring of `[lon, lat]` positions.
///
/// Longitudes are unwrapped relative to the first vertex so that a cell crossing the
/// antimeridian stays one contiguous polygon (some positions then lie beyond ±180°).
pub fn cell_ring(cell: CellIndex) -> Vec<[f64; 2]> {
    let boundary = cell.boundary();
    let mut ring: Vec<[f64; 2]> = Vec::with_capacity(boundary.len() + 1);
    let mut first_lon = None;
    for vertex in boundary.iter() {
        let mut lon = vertex.lng();
        let reference = *first_lon.get_or_insert(lon);
        if lon - reference > 180.0 {
            lon -= 360.0;
        } else if reference - lon > 180.0 {
            lon += 360.0;
        }
        ring.push([lon, vertex.lat()]);
    }
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    ring
}

/// A GeoJSON `FeatureCollection` with one `Polygon` feature per cell, carrying the given
/// properties. The feature's `id` is the cell's hexadecimal index; properties that are not a JSON
/// object (or null) are wrapped as `{"value": …}`, and an object gains an `"h3"` entry with the
/// index unless it already has one.
pub fn coverage_geojson(cells: &[(CellIndex, Value)]) -> Value {
    let features: Vec<Value> = cells
        .iter()
        .map(|(cell, properties)| {
            let id = cell.to_string();
            let properties = match properties {
                Value::Object(map) => {
                    let mut map = map.clone();
                    map.entry("h3").or_insert_with(|| Value::String(id.clone()));
                    Value::Object(map)
                }
                Value::Null => {
                    let mut map = Map::new();
                    map.insert("h3".into(), Value::String(id.clone()));
                    Value::Object(map)
                }
                other => json!({ "h3": id, "value": other }),
            };
            json!({
                "type": "Feature",
                "id": id,
                "geometry": { "type": "Polygon", "coordinates": [cell_ring(*cell)] },
                "properties": properties,
            })
        })
        .collect();
    json!({ "type": "FeatureCollection", "features": features })
}

#[cfg(test)]
mod tests {
    use super::*;
    use h3o::{LatLng, Resolution};

    #[test]
    fn a_cell_becomes_a_closed_polygon_around_its_centre() {
        let cell = LatLng::new(48.8566, 2.3522)
            .unwrap()
            .to_cell(Resolution::Eight);
        let map = coverage_geojson(&[(cell, json!({ "scale": 0.5 }))]);
        assert_eq!(map["type"], "FeatureCollection");
        let feature = &map["features"][0];
        assert_eq!(feature["type"], "Feature");
        assert_eq!(feature["id"], cell.to_string());
        assert_eq!(feature["properties"]["scale"], 0.5);
        assert_eq!(feature["properties"]["h3"], cell.to_string());
        assert_eq!(feature["geometry"]["type"], "Polygon");
        let ring = feature["geometry"]["coordinates"][0].as_array().unwrap();
        assert_eq!(ring.len(), 7, "six vertices and the closing one");
        assert_eq!(ring.first(), ring.last());
        for position in ring {
            let lon = position[0].as_f64().unwrap();
            let lat = position[1].as_f64().unwrap();
            // [lon, lat] order: Paris is at lon ≈ 2.35, lat ≈ 48.86.
            assert!((lon - 2.3522).abs() < 0.05, "{lon}");
            assert!((lat - 48.8566).abs() < 0.05, "{lat}");
        }
    }

    #[test]
    fn pentagons_antimeridian_and_odd_properties() {
        let pentagon = CellIndex::base_cells().find(|c| c.is_pentagon()).unwrap();
        let map = coverage_geojson(&[(pentagon, json!(3)), (pentagon, Value::Null)]);
        let ring = map["features"][0]["geometry"]["coordinates"][0]
            .as_array()
            .unwrap();
        assert!(ring.len() >= 6);
        assert_eq!(ring.first(), ring.last());
        assert_eq!(map["features"][0]["properties"]["value"], 3);
        assert!(map["features"][1]["properties"].is_object());

        let fiji = LatLng::new(-17.0, 179.99).unwrap().to_cell(Resolution::Two);
        let ring = cell_ring(fiji);
        let lons: Vec<f64> = ring.iter().map(|p| p[0]).collect();
        let spread = lons.iter().cloned().fold(f64::MIN, f64::max)
            - lons.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread < 180.0, "{lons:?}");

        assert_eq!(coverage_geojson(&[])["features"], json!([]));
    }
}

//! Filters, search, paging and geo questions over a registry's entries.
//!
//! Lists are at most tens of thousands of entries (20,000 vehicles is the largest in the plan),
//! so queries run over the entries in memory: exact filters on any field, a case-insensitive
//! substring search over text fields, inside a polygon (a GeoJSON geometry, e.g. a protected
//! area's boundary), within a distance of a point (great-circle, metres), then sorting by key
//! and paging.

use serde_json::{Map, Value};

use crate::schema::{FieldType, Schema};

/// A query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Field equals value (enum values, text, numbers and booleans as text).
    pub filters: Vec<(String, String)>,
    /// Substring of any text field, case-insensitive.
    pub search: Option<String>,
    /// Inside this GeoJSON Polygon or MultiPolygon (entries with a point field).
    pub within: Option<Value>,
    /// Within `.2` metres of `.0` = [longitude, latitude].
    pub near: Option<([f64; 2], f64)>,
    /// 0-based page.
    pub page: usize,
    /// Entries per page.
    pub per_page: usize,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Entries matching, over all pages.
    pub total: usize,
    /// This page's entries.
    pub entries: Vec<Map<String, Value>>,
}

/// A query names something that is not there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

pub use domain::distance_m;

fn ring_contains(ring: &[Value], p: [f64; 2]) -> bool {
    let pts: Vec<[f64; 2]> = ring
        .iter()
        .filter_map(|v| Some([v.get(0)?.as_f64()?, v.get(1)?.as_f64()?]))
        .collect();
    let mut inside = false;
    let mut j = pts.len().wrapping_sub(1);
    for i in 0..pts.len() {
        let (a, b) = (pts[i], pts[j]);
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
        {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn polygon_contains(rings: &[Value], p: [f64; 2]) -> bool {
    let mut rings = rings.iter().filter_map(Value::as_array);
    match rings.next() {
        Some(outer) if ring_contains(outer, p) => !rings.any(|hole| ring_contains(hole, p)),
        _ => false,
    }
}

/// Whether a GeoJSON Polygon or MultiPolygon contains a point.
pub fn geometry_contains(geometry: &Value, p: [f64; 2]) -> bool {
    let coords = geometry.get("coordinates").and_then(Value::as_array);
    match (geometry.get("type").and_then(Value::as_str), coords) {
        (Some("Polygon"), Some(rings)) => polygon_contains(rings, p),
        (Some("MultiPolygon"), Some(polys)) => polys
            .iter()
            .filter_map(Value::as_array)
            .any(|rings| polygon_contains(rings, p)),
        _ => false,
    }
}

fn point_of(schema: &Schema, e: &Map<String, Value>) -> Option<[f64; 2]> {
    let f = schema.fields.iter().find(|f| f.kind == FieldType::Point)?;
    let a = e.get(&f.name)?.as_array()?;
    Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?])
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs a query over entries (in any order); results are sorted by key.
pub fn run(
    schema: &Schema,
    entries: Vec<Map<String, Value>>,
    q: &Query,
) -> Result<Page, QueryError> {
    for (name, _) in &q.filters {
        // A secret (a device password) cannot be filtered on: that would reveal it.
        if schema.field(name).is_none_or(|f| f.secret) {
            return Err(QueryError(format!(
                "{name}: not a field of {}",
                schema.name
            )));
        }
    }
    if (q.within.is_some() || q.near.is_some())
        && !schema.fields.iter().any(|f| f.kind == FieldType::Point)
    {
        return Err(QueryError(format!("{} has no location field", schema.name)));
    }
    let needle = q.search.as_ref().map(|s| s.to_lowercase());
    let mut hits: Vec<Map<String, Value>> = entries
        .into_iter()
        .filter(|e| {
            q.filters
                .iter()
                .all(|(name, want)| e.get(name).is_some_and(|v| value_text(v) == *want))
        })
        .filter(|e| {
            needle.as_ref().is_none_or(|n| {
                schema
                    .visible_fields()
                    .filter(|f| f.kind == FieldType::String)
                    .filter_map(|f| e.get(&f.name).and_then(Value::as_str))
                    .any(|s| s.to_lowercase().contains(n.as_str()))
            })
        })
        .filter(|e| {
            q.within
                .as_ref()
                .is_none_or(|g| point_of(schema, e).is_some_and(|p| geometry_contains(g, p)))
        })
        .filter(|e| {
            q.near
                .is_none_or(|(c, r)| point_of(schema, e).is_some_and(|p| distance_m(c, p) <= r))
        })
        .collect();
    hits.sort_by_key(|e| schema.key_of(e));
    let total = hits.len();
    let per_page = q.per_page.max(1);
    let entries = hits
        .into_iter()
        .skip(q.page.saturating_mul(per_page))
        .take(per_page)
        .collect();
    Ok(Page { total, entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn geometry_and_distance() {
        let square = json!({"type": "Polygon", "coordinates": [[[0,0],[2,0],[2,2],[0,2],[0,0]],
                                                               [[0.5,0.5],[1,0.5],[1,1],[0.5,1],[0.5,0.5]]]});
        assert!(geometry_contains(&square, [1.5, 1.5]));
        assert!(!geometry_contains(&square, [0.75, 0.75]), "in the hole");
        assert!(!geometry_contains(&square, [3.0, 1.0]));
        // Jinan (Quancheng Square) to Tai'an: about 60 km.
        let d = distance_m([117.02, 36.66], [117.09, 36.20]);
        assert!((50_000.0..60_000.0).contains(&d), "{d}");
    }

    #[test]
    fn filters_search_paging_and_geo() {
        let schema = crate::schemas()
            .into_iter()
            .find(|s| s.name == "air_stations")
            .expect("schema");
        let entries: Vec<Map<String, Value>> = (0..25)
            .map(|i| {
                json!({"code": format!("A{i:02}"), "name": format!("Station {i}"),
                       "district": if i % 2 == 0 { "lixia" } else { "licheng" },
                       "location": [117.0 + f64::from(i) * 0.01, 36.6], "level": "city"})
                .as_object()
                .cloned()
                .expect("object")
            })
            .collect();
        let q = Query {
            filters: vec![("district".into(), "lixia".into())],
            per_page: 5,
            page: 1,
            ..Query::default()
        };
        let page = run(&schema, entries.clone(), &q).expect("runs");
        assert_eq!(page.total, 13);
        assert_eq!(page.entries[0]["code"], "A10");
        let q = Query {
            search: Some("STATION 2".into()),
            per_page: 100,
            ..Query::default()
        };
        assert_eq!(run(&schema, entries.clone(), &q).expect("runs").total, 6);
        let q = Query {
            near: Some(([117.0, 36.6], 2_000.0)),
            per_page: 100,
            ..Query::default()
        };
        assert_eq!(run(&schema, entries.clone(), &q).expect("runs").total, 3);
        let q = Query {
            filters: vec![("colour".into(), "red".into())],
            per_page: 1,
            ..Query::default()
        };
        assert!(run(&schema, entries, &q).is_err());
    }
}

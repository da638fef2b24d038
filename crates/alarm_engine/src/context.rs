//! What the rules need besides the hour itself: the registries' classes, the point's baseline,
//! the other air stations, the stations near it.

use std::collections::BTreeMap;

use domain::{DataType, Point};
use store::{SeriesQuery, Store};

use crate::EngineError;

/// What the registries say about a point (matched by MN, or by the point id as the entry's code).
pub(crate) fn context(
    registries: &dyn store::RegistryStore,
    p: &Point,
) -> Result<rules::Context, EngineError> {
    let find = |registry: &str, field: &str| -> Result<Option<String>, EngineError> {
        Ok(registries
            .entries(registry)
            .map_err(EngineError::from)?
            .into_iter()
            .find(|e| {
                e.data.get("mn").and_then(|m| m.as_str()) == Some(p.mn.as_str())
                    || e.data.get("code").and_then(|c| c.as_str()) == Some(p.id.as_str())
            })
            .and_then(|e| {
                e.data
                    .get(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            }))
    };
    Ok(rules::Context {
        water_target: if p.kind == domain::PointKind::WaterSection {
            find("water_sections", "target_class")?
        } else {
            None
        },
        noise_zone: if p.kind == domain::PointKind::Noise {
            find("noise_points", "zone_class")?
        } else {
            None
        },
        baseline: BTreeMap::new(),
        past: rules::Past::default(),
        peers: BTreeMap::new(),
        neighbours: Vec::new(),
        now_s: None,
    })
}

/// A point's hourly observations over `[from, to]`, read as rows.
fn hourly_rows(
    series: &dyn Store,
    point_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<rules::Row>, EngineError> {
    let q = SeriesQuery {
        point_id: point_id.to_owned(),
        data_type: DataType::Hour,
        code: None,
        from,
        to,
        limit: 100_000,
    };
    Ok(rules::rows(&series.series(&q).map_err(EngineError::from)?))
}

/// The other air stations' valid hourly values at hour `h`: mean and count per code.
pub(crate) fn peers(
    series: &dyn Store,
    all_points: &[Point],
    point: &Point,
    h: i64,
) -> Result<BTreeMap<String, (f64, usize)>, EngineError> {
    let mut rows = Vec::new();
    for other in all_points
        .iter()
        .filter(|o| o.kind == domain::PointKind::AirStation && o.id != point.id)
    {
        rows.extend(hourly_rows(series, &other.id, h, h)?);
    }
    Ok(rules::valid_hourly_means(&rows))
}

/// The stations of the point's kind within `radius_km` of it, nearest first, with their hourly
/// records of the `hours` before hour `h` and of `h` itself.
pub(crate) fn neighbours(
    series: &dyn Store,
    all_points: &[Point],
    point: &Point,
    h: i64,
    hours: u32,
    radius_km: f64,
) -> Result<Vec<rules::Neighbour>, EngineError> {
    let mut near: Vec<(f64, &Point)> = all_points
        .iter()
        .filter(|o| o.kind == point.kind && o.id != point.id)
        .filter_map(|o| Some((domain::distance_m(point.location?, o.location?) / 1000.0, o)))
        .filter(|(km, _)| *km <= radius_km)
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    for (_, other) in near {
        let rows = hourly_rows(series, &other.id, h - i64::from(hours) * 3600, h)?;
        out.extend(rules::Neighbour::of(point, other, rows));
    }
    Ok(out)
}

//! # registry: the bureau's lists, defined by schemas
//!
//! A registry (sewage outlets under remediation, vehicles to scrap, villages, ...) is a schema
//! file, not code: [`schema::Schema`] lists the fields with their English and Chinese labels,
//! types, allowed values and the status lifecycle. The shipped schemas live in `schemas/` and
//! are compiled in ([`schemas`]).
//!
//! This crate is pure: it validates entries ([`schema`]), reads and writes the bureau's
//! spreadsheets ([`exchange`]: CSV in UTF-8 or GBK, XLSX; Chinese or English headers; all or
//! nothing per file with every bad cell reported), filters, searches, pages and answers geo
//! questions over entries ([`query`]), computes the plan's targets from entries and their
//! history ([`targets`]), and generates the demo city ([`demo`]). Storage and history live in
//! the `store` crate; HTTP in `server`.

pub mod demo;
pub mod exchange;
pub mod query;
pub mod schema;
pub mod targets;

pub use schema::{Field, FieldError, FieldType, Lifecycle, Schema, SchemaError};

/// The shipped schema files, by file name.
pub const SCHEMA_FILES: &[(&str, &str)] = &[
    (
        "air_stations.toml",
        include_str!("../schemas/air_stations.toml"),
    ),
    (
        "carbon_market_enterprises.toml",
        include_str!("../schemas/carbon_market_enterprises.toml"),
    ),
    (
        "construction_land_plots.toml",
        include_str!("../schemas/construction_land_plots.toml"),
    ),
    (
        "enterprises.toml",
        include_str!("../schemas/enterprises.toml"),
    ),
    (
        "hazardous_waste_units.toml",
        include_str!("../schemas/hazardous_waste_units.toml"),
    ),
    (
        "key_risk_units.toml",
        include_str!("../schemas/key_risk_units.toml"),
    ),
    (
        "monitoring_points.toml",
        include_str!("../schemas/monitoring_points.toml"),
    ),
    (
        "noise_points.toml",
        include_str!("../schemas/noise_points.toml"),
    ),
    (
        "noise_sources.toml",
        include_str!("../schemas/noise_sources.toml"),
    ),
    (
        "non_road_machinery.toml",
        include_str!("../schemas/non_road_machinery.toml"),
    ),
    ("projects.toml", include_str!("../schemas/projects.toml")),
    (
        "protected_areas.toml",
        include_str!("../schemas/protected_areas.toml"),
    ),
    (
        "heavy_duty_vehicles.toml",
        include_str!("../schemas/heavy_duty_vehicles.toml"),
    ),
    (
        "radioactive_sources.toml",
        include_str!("../schemas/radioactive_sources.toml"),
    ),
    (
        "sewage_outlets.toml",
        include_str!("../schemas/sewage_outlets.toml"),
    ),
    ("vehicles.toml", include_str!("../schemas/vehicles.toml")),
    ("villages.toml", include_str!("../schemas/villages.toml")),
    (
        "water_sections.toml",
        include_str!("../schemas/water_sections.toml"),
    ),
];

/// The shipped schemas (each checked by a test).
pub fn schemas() -> Vec<Schema> {
    parsed().to_vec()
}

/// One shipped schema, by name.
pub fn schema(name: &str) -> Option<&'static Schema> {
    parsed().iter().find(|s| s.name == name)
}

/// The shipped schemas, parsed once (points are checked against theirs one by one, a points
/// file of thousands at every start).
fn parsed() -> &'static [Schema] {
    static PARSED: std::sync::OnceLock<Vec<Schema>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        SCHEMA_FILES
            .iter()
            .filter_map(|(_, text)| Schema::from_toml(text).ok())
            .collect()
    })
}

/// Checks every shipped schema file; the first failure, with its file.
pub fn check_schema_files() -> Result<(), SchemaError> {
    for (file, text) in SCHEMA_FILES {
        Schema::from_toml(text).map_err(|e| SchemaError {
            schema: (*file).to_owned(),
            reason: e.reason,
        })?;
    }
    Ok(())
}

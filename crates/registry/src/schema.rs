//! Registry schemas: what a list's entries look like, read from TOML.
//!
//! A schema names its fields (each with an English and a Chinese label, a type, whether it is
//! required, allowed values for enums), the field that holds an entry's natural key, and
//! optionally a lifecycle: a status field, its states in order, the initial state and the
//! allowed moves. Validation turns a JSON object into a normalised entry or a list of errors,
//! each naming its field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text.
    String,
    /// Whole number.
    Integer,
    /// Number.
    Number,
    /// Yes or no.
    Boolean,
    /// Calendar date, `YYYY-MM-DD`.
    Date,
    /// One of `values`.
    Enum,
    /// `[longitude, latitude]` (WGS 84).
    Point,
    /// A GeoJSON `Polygon` or `MultiPolygon` geometry.
    Geometry,
    /// Names to non-negative numbers (permitted annual totals per pollutant, t/a).
    NumberMap,
    /// Several texts.
    StringList,
    /// A monitoring point's codes: factor code to its settings (`limit`, `ref_o2`, `unit`).
    CodeSettings,
}

/// One field of a schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Name in the API and English headers (`snake_case`).
    pub name: String,
    /// English label.
    pub label: String,
    /// Chinese label (the header of the bureau's spreadsheets).
    pub label_zh: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Must be present and not empty.
    #[serde(default)]
    pub required: bool,
    /// Allowed values (enums).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Chinese names of `values`, in the same order (accepted on import, used on export).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_zh: Vec<String>,
    /// English display names of `values`, in the same order, where the stored value is a code
    /// (`lixia` is shown as "Lixia District"); without them a value is shown as it is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_en: Vec<String>,
    /// Smallest allowed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Write-only (a device password): accepted on input, never shown, exported or put in a
    /// change's before/after as returned by the API; an update without it keeps the stored one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// A text field's format checked on input: `vin` (17 characters, GB 16735 check digit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
}

/// Formats a text field can be held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    /// A vehicle identification number with a valid check digit.
    Vin,
}

/// The status lifecycle of a registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// The enum field holding the state.
    pub field: String,
    /// The state a new entry starts in when none is given.
    pub initial: String,
    /// Allowed moves `[from, to]`. Empty: any move forward in the field's value order.
    #[serde(default)]
    pub transitions: Vec<[String; 2]>,
}

/// A registry schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Name in the API (`sewage_outlets`).
    pub name: String,
    /// English title.
    pub title: String,
    /// Chinese title.
    pub title_zh: String,
    /// The field holding each entry's unique key.
    pub key: String,
    /// Fields, in display order.
    pub fields: Vec<Field>,
    /// Status lifecycle, if the list has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
}

/// A schema file that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schema {schema}: {reason}")]
pub struct SchemaError {
    /// The schema's name (or file).
    pub schema: String,
    /// What is wrong.
    pub reason: String,
}

/// A value that does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field (or `""` for the entry as a whole).
    pub field: String,
    /// Why.
    pub reason: String,
}

impl FieldError {
    fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

impl Schema {
    /// Parses and checks a schema file.
    pub fn from_toml(text: &str) -> Result<Self, SchemaError> {
        let schema: Self = toml::from_str(text).map_err(|e| SchemaError {
            schema: "?".into(),
            reason: e.to_string(),
        })?;
        schema.check()?;
        Ok(schema)
    }

    fn check(&self) -> Result<(), SchemaError> {
        let err = |reason: String| SchemaError {
            schema: self.name.clone(),
            reason,
        };
        let mut names = std::collections::BTreeSet::new();
        for f in &self.fields {
            if !names.insert(f.name.as_str()) {
                return Err(err(format!("field {} is declared twice", f.name)));
            }
            if f.kind == FieldType::Enum && f.values.is_empty() {
                return Err(err(format!("enum field {} has no values", f.name)));
            }
            if !f.values_en.is_empty() && f.values_en.len() != f.values.len() {
                return Err(err(format!(
                    "field {}: values_en must match values",
                    f.name
                )));
            }
            if !f.values_zh.is_empty() && f.values_zh.len() != f.values.len() {
                return Err(err(format!(
                    "field {}: values_zh must match values",
                    f.name
                )));
            }
        }
        let key = self
            .field(&self.key)
            .ok_or_else(|| err(format!("key field {} is not declared", self.key)))?;
        if !key.required || !matches!(key.kind, FieldType::String | FieldType::Integer) {
            return Err(err(
                "the key field must be a required string or integer".into()
            ));
        }
        if let Some(l) = &self.lifecycle {
            let f = self
                .field(&l.field)
                .filter(|f| f.kind == FieldType::Enum)
                .ok_or_else(|| err(format!("lifecycle field {} is not an enum field", l.field)))?;
            let known = |s: &str| f.values.iter().any(|v| v == s);
            if !known(&l.initial) {
                return Err(err(format!("initial state {} is not a value", l.initial)));
            }
            if let Some([a, b]) = l.transitions.iter().find(|[a, b]| !known(a) || !known(b)) {
                return Err(err(format!("transition {a} -> {b} names an unknown state")));
            }
        }
        Ok(())
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The key of a (validated) entry.
    pub fn key_of(&self, entry: &Map<String, Value>) -> Option<String> {
        match entry.get(&self.key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Validates an entry: unknown fields, required fields, types, allowed values. Fills the
    /// lifecycle's initial state when absent. Returns the normalised entry or every error.
    pub fn validate(
        &self,
        input: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<FieldError>> {
        let mut errors = Vec::new();
        for name in input.keys() {
            if self.field(name).is_none() {
                errors.push(FieldError::new(name, "unknown field"));
            }
        }
        let mut out = Map::new();
        for f in &self.fields {
            match input.get(&f.name) {
                None | Some(Value::Null) => {
                    if let Some(l) = self.lifecycle.as_ref().filter(|l| l.field == f.name) {
                        out.insert(f.name.clone(), Value::String(l.initial.clone()));
                    } else if f.required {
                        errors.push(FieldError::new(&f.name, "required"));
                    }
                }
                Some(Value::String(s)) if s.trim().is_empty() && f.required => {
                    errors.push(FieldError::new(&f.name, "required"));
                }
                Some(v) => match f.check(v) {
                    Ok(v) => {
                        out.insert(f.name.clone(), v);
                    }
                    Err(reason) => errors.push(FieldError::new(&f.name, reason)),
                },
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The fields that may be shown and exported (all but the secret ones).
    pub fn visible_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.secret)
    }

    /// Removes the secret fields' values from an entry about to be shown.
    pub fn hide_secrets(&self, data: &mut Map<String, Value>) {
        for f in self.fields.iter().filter(|f| f.secret) {
            data.remove(&f.name);
        }
    }

    /// Gives an incoming entry the stored values of the secret fields it leaves out (a form or
    /// a spreadsheet never holds them, and must not erase them).
    pub fn keep_secrets(
        &self,
        incoming: &mut Map<String, Value>,
        current: Option<&Map<String, Value>>,
    ) {
        let Some(current) = current else {
            return;
        };
        for f in self.fields.iter().filter(|f| f.secret) {
            let absent = incoming
                .get(&f.name)
                .is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.is_empty()));
            if absent && let Some(v) = current.get(&f.name) {
                incoming.insert(f.name.clone(), v.clone());
            }
        }
    }

    /// Whether moving an entry from `before` to `after` respects the lifecycle.
    pub fn check_transition(
        &self,
        before: Option<&Map<String, Value>>,
        after: &Map<String, Value>,
    ) -> Result<(), FieldError> {
        let (Some(l), Some(before)) = (&self.lifecycle, before) else {
            return Ok(());
        };
        let state =
            |m: &Map<String, Value>| m.get(&l.field).and_then(Value::as_str).map(str::to_owned);
        let (Some(from), Some(to)) = (state(before), state(after)) else {
            return Ok(());
        };
        if from == to {
            return Ok(());
        }
        let allowed = if l.transitions.is_empty() {
            let order = self
                .field(&l.field)
                .map(|f| f.values.clone())
                .unwrap_or_default();
            let pos = |s: &str| order.iter().position(|v| v == s);
            matches!((pos(&from), pos(&to)), (Some(a), Some(b)) if b > a)
        } else {
            l.transitions.iter().any(|[a, b]| *a == from && *b == to)
        };
        if allowed {
            Ok(())
        } else {
            Err(FieldError::new(
                &l.field,
                format!("cannot move from {from} to {to}"),
            ))
        }
    }
}

/// A calendar date written `YYYY-MM-DD`, from 1900 on.
fn is_date(s: &str) -> bool {
    bjtime::Date::parse(s).is_ok_and(|d| d.year() >= 1900)
}

fn check_ring(ring: &Value) -> Result<(), String> {
    let points = ring
        .as_array()
        .ok_or("a ring must be an array of positions")?;
    if points.len() < 4 {
        return Err("a ring needs at least 4 positions".into());
    }
    for p in points {
        check_position(p)?;
    }
    if points.first() != points.last() {
        return Err("a ring must end where it starts".into());
    }
    Ok(())
}

/// A number in one canonical form, whatever form it came in (`256`, `256.0`, `2.56e2` from a
/// JSON body, a spreadsheet's float, a CSV cell): a whole number within f64's exact range as an
/// integer, anything else as the shortest decimal that reads back as the same f64. Entries hold
/// only canonical numbers, so an unchanged value compares equal however it travelled.
fn canonical_number(x: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if x.fract() == 0.0 && x.abs() < EXACT {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// Every number in a JSON value in canonical form (GeoJSON coordinates).
fn canonical_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) => n.as_f64().map_or_else(|| v.clone(), canonical_number),
        Value::Array(a) => Value::Array(a.iter().map(canonical_numbers).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), canonical_numbers(x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A point's codes: `{"a21026": {"limit": 35, "ref_o2": 9, "unit": "mg/m3", "range": 200,
/// "detection_limit": 3}, ...}`, each setting optional, numbers canonical.
fn check_code_settings(v: &Value) -> Result<Value, String> {
    let codes = v
        .as_object()
        .ok_or("must be an object of factor codes to their settings")?;
    let mut out = Map::new();
    for (code, settings) in codes {
        if code.trim().is_empty()
            || code.len() > 16
            || !code.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(format!(
                "{code:?}: a factor code is 1 to 16 letters and digits"
            ));
        }
        let settings = settings
            .as_object()
            .ok_or_else(|| format!("{code}: must be an object (limit, ref_o2, unit)"))?;
        let mut norm = Map::new();
        for (k, x) in settings {
            let value = match (k.as_str(), x) {
                (_, Value::Null) => continue,
                ("limit", _) => match x.as_f64() {
                    Some(n) if n.is_finite() && n >= 0.0 => canonical_number(n),
                    _ => return Err(format!("{code}.limit: must be a number of at least 0")),
                },
                ("ref_o2", _) => match x.as_f64() {
                    Some(n) if (0.0..21.0).contains(&n) => canonical_number(n),
                    _ => return Err(format!("{code}.ref_o2: must be a percentage below 21")),
                },
                ("unit", Value::String(u)) => Value::String(u.trim().to_owned()),
                ("unit", _) => return Err(format!("{code}.unit: must be text")),
                ("range" | "detection_limit", _) => match x.as_f64() {
                    Some(n) if n.is_finite() && n > 0.0 => canonical_number(n),
                    _ => return Err(format!("{code}.{k}: must be a number above 0")),
                },
                (other, _) => {
                    return Err(format!(
                        "{code}.{other}: unknown setting (limit, ref_o2, unit, range, detection_limit)"
                    ));
                }
            };
            norm.insert(k.clone(), value);
        }
        out.insert(code.clone(), Value::Object(norm));
    }
    Ok(Value::Object(out))
}

fn check_position(p: &Value) -> Result<[f64; 2], String> {
    let a = p
        .as_array()
        .filter(|a| a.len() >= 2)
        .ok_or("a position is [longitude, latitude]")?;
    let (Some(lon), Some(lat)) = (a[0].as_f64(), a[1].as_f64()) else {
        return Err("a position is [longitude, latitude]".into());
    };
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(format!("position [{lon}, {lat}] is outside the globe"));
    }
    Ok([lon, lat])
}

impl Field {
    /// Checks a JSON value against the field and normalises it.
    pub fn check(&self, v: &Value) -> Result<Value, String> {
        let range = |x: f64| -> Result<(), String> {
            if let Some(min) = self.min.filter(|m| x < *m) {
                return Err(format!("{x} is below the minimum {min}"));
            }
            if let Some(max) = self.max.filter(|m| x > *m) {
                return Err(format!("{x} is above the maximum {max}"));
            }
            Ok(())
        };
        match self.kind {
            FieldType::String => match v {
                Value::String(s) => {
                    let s = s.trim();
                    if self.format == Some(TextFormat::Vin) {
                        hj1239::vin::check(s).map_err(|e| e.to_string())?;
                    }
                    Ok(Value::String(s.to_owned()))
                }
                _ => Err("must be text".into()),
            },
            FieldType::Integer => {
                let n = v.as_i64().ok_or("must be a whole number")?;
                range(n as f64)?;
                Ok(Value::from(n))
            }
            FieldType::Number => {
                let n = v
                    .as_f64()
                    .filter(|n| n.is_finite())
                    .ok_or("must be a number")?;
                range(n)?;
                Ok(canonical_number(n))
            }
            FieldType::Boolean => v
                .as_bool()
                .map(Value::Bool)
                .ok_or_else(|| "must be true or false".into()),
            FieldType::Date => match v.as_str() {
                Some(s) if is_date(s) => Ok(v.clone()),
                _ => Err("must be a date YYYY-MM-DD".into()),
            },
            FieldType::Enum => match v.as_str() {
                Some(s) if self.values.iter().any(|x| x == s) => Ok(v.clone()),
                _ => Err(format!("must be one of {}", self.values.join(", "))),
            },
            FieldType::Point => check_position(v)
                .map(|[lon, lat]| Value::Array(vec![canonical_number(lon), canonical_number(lat)])),
            FieldType::Geometry => {
                let kind = v.get("type").and_then(Value::as_str);
                let coords = v.get("coordinates").and_then(Value::as_array);
                match (kind, coords) {
                    (Some("Polygon"), Some(rings)) if !rings.is_empty() => {
                        rings.iter().try_for_each(check_ring)?;
                    }
                    (Some("MultiPolygon"), Some(polys)) if !polys.is_empty() => {
                        for poly in polys {
                            let rings = poly
                                .as_array()
                                .filter(|r| !r.is_empty())
                                .ok_or("a polygon is an array of rings")?;
                            rings.iter().try_for_each(check_ring)?;
                        }
                    }
                    _ => return Err("must be a GeoJSON Polygon or MultiPolygon geometry".into()),
                }
                Ok(
                    serde_json::json!({"type": kind, "coordinates": coords.map(|c| canonical_numbers(&Value::Array(c.clone())))}),
                )
            }
            FieldType::NumberMap => {
                let m = v.as_object().ok_or("must be an object of numbers")?;
                let mut out = Map::new();
                for (k, n) in m {
                    match n.as_f64() {
                        Some(x) if x >= 0.0 && x.is_finite() => {
                            out.insert(k.clone(), canonical_number(x));
                        }
                        _ => return Err(format!("{k}: must be a number of at least 0")),
                    }
                }
                Ok(Value::Object(out))
            }
            FieldType::CodeSettings => check_code_settings(v),
            FieldType::StringList => {
                let a = v.as_array().ok_or("must be a list of texts")?;
                if !a.iter().all(Value::is_string) {
                    return Err("must be a list of texts".into());
                }
                let outside = a
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|s| !self.values.is_empty() && !self.values.iter().any(|x| x == s));
                match outside {
                    Some(s) => Err(format!(
                        "{s:?}: each must be one of {}",
                        self.values.join(", ")
                    )),
                    None => Ok(v.clone()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_vin_field_is_held_to_the_check_digit() {
        let schema = crate::schema("heavy_duty_vehicles").expect("schema");
        let vin = schema
            .fields
            .iter()
            .find(|f| f.name == "vin")
            .expect("vin field");
        assert_eq!(
            vin.check(&json!(" LGDCHA1G8MA127733 ")),
            Ok(json!("LGDCHA1G8MA127733"))
        );
        let e = vin
            .check(&json!("LWHTEST1234567895"))
            .expect_err("check digit");
        assert!(e.contains("check digit"), "{e}");
        assert!(
            vin.check(&json!("LGDCHA1G8MA12773")).is_err(),
            "16 characters"
        );
    }

    use super::*;
    use serde_json::json;

    fn outlets() -> Schema {
        crate::schemas()
            .into_iter()
            .find(|s| s.name == "sewage_outlets")
            .expect("shipped")
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn every_shipped_schema_is_valid() {
        let all = crate::schemas();
        assert_eq!(crate::check_schema_files(), Ok(()));
        assert!(all.len() >= 17, "{}", all.len());
    }

    #[test]
    fn errors_name_their_fields() {
        let s = outlets();
        let errors = s
            .validate(&obj(json!({
                "code": "",
                "basin": "amazon",
                "location": [300, 1],
                "colour": "red"
            })))
            .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in ["colour", "code", "basin", "location"] {
            assert!(fields.contains(&f), "{f} in {errors:?}");
        }
    }

    #[test]
    fn lifecycle_starts_at_its_initial_state_and_moves_forward() {
        let s = outlets();
        let e = s
            .validate(&obj(
                json!({"code": "P1", "name": "x", "basin": "yellow_river",
                                  "receiving_water": "r", "outlet_type": "industrial",
                                  "district": "lixia"}),
            ))
            .expect("valid");
        assert_eq!(e["status"], "identified");
        let mut later = e.clone();
        later.insert("status".into(), json!("remediated"));
        assert!(s.check_transition(Some(&e), &later).is_ok());
        assert!(s.check_transition(Some(&later), &e).is_err());
    }

    #[test]
    fn a_points_codes_and_password_are_checked_and_the_password_is_never_shown() {
        let points = crate::schemas()
            .into_iter()
            .find(|s| s.name == "monitoring_points")
            .expect("shipped");
        let entry = obj(json!({
            "id": "p1", "name": "n", "mn": "MN1", "kind": "gas_outlet", "password": "pw",
            "accepted_crc": ["hj212", "modbus"],
            "codes": {"a21026": {"limit": 35.0, "ref_o2": 9, "unit": " mg/m3 "}},
        }));
        let mut ok = points.validate(&entry).expect("valid");
        assert_eq!(
            ok["codes"],
            json!({"a21026": {"limit": 35, "ref_o2": 9, "unit": "mg/m3"}})
        );
        for (field, bad) in [
            ("codes", json!({"a21026": {"limit": -1}})),
            ("codes", json!({"a21026": {"ref_o2": 21}})),
            ("codes", json!({"a21026": {"lmit": 3}})),
            ("codes", json!({"a 21026": {}})),
            ("accepted_crc", json!(["crc32"])),
        ] {
            let mut e = entry.clone();
            e.insert(field.into(), bad.clone());
            let errors = points.validate(&e).expect_err("invalid");
            assert_eq!(errors[0].field, field, "{bad}");
        }
        // Shown without the password; an edit without it gets the stored one back.
        let stored = ok.clone();
        points.hide_secrets(&mut ok);
        assert!(!ok.contains_key("password"));
        assert!(!points.visible_fields().any(|f| f.name == "password"));
        points.keep_secrets(&mut ok, Some(&stored));
        assert_eq!(ok, stored);
        // A new password replaces it.
        let mut changed = stored.clone();
        changed.insert("password".into(), json!("new"));
        points.keep_secrets(&mut changed, Some(&stored));
        assert_eq!(changed["password"], "new");
    }

    #[test]
    fn geometry_is_checked() {
        let f = Field {
            name: "area".into(),
            label: "Area".into(),
            label_zh: "范围".into(),
            kind: FieldType::Geometry,
            required: true,
            values: vec![],
            values_zh: vec![],
            values_en: vec![],
            min: None,
            max: None,
            secret: false,
            format: None,
        };
        let square = json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1],[0,0]]]});
        assert!(f.check(&square).is_ok());
        let open = json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1]]]});
        assert!(f.check(&open).is_err());
        assert!(
            f.check(&json!({"type": "Point", "coordinates": [0, 0]}))
                .is_err()
        );
    }
}

//! Spreadsheets in and out: the bureau keeps its lists in Excel.
//!
//! Reading: CSV (UTF-8 with or without BOM, or GBK as Excel writes it on Chinese Windows) or
//! the first sheet of an XLSX workbook, first row = headers. A header may be a field's name,
//! English label or Chinese label. Cells are read by the field's type with the forms clerks
//! type (`是`/`否`, `2026/3/5`, `2026年3月5日`, enum values in Chinese, `117.1,36.6`, `COD=12;氨氮=1.5`).
//! An import is all or nothing: [`import`] returns every bad cell (row as Excel numbers it,
//! column header, reason) or all entries.
//!
//! Writing: CSV (UTF-8 with BOM, so Excel shows Chinese correctly) or XLSX, headers and enum
//! values in Chinese or English.

use std::collections::BTreeMap;
use std::io::Cursor;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::schema::{Field, FieldType, Schema};

/// A sheet: headers and rows of cell texts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// The first row.
    pub headers: Vec<String>,
    /// The other rows (empty rows dropped; their numbers kept in `row_numbers`).
    pub rows: Vec<Vec<String>>,
    /// The spreadsheet row number (1-based, header = 1) of each row.
    pub row_numbers: Vec<usize>,
}

/// One problem found in an import file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportError {
    /// Spreadsheet row (1 = the header row); 0 for the file as a whole.
    pub row: usize,
    /// Column header, when the problem is in one cell.
    pub column: Option<String>,
    /// Why.
    pub reason: String,
}

/// Header and enum language of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// Chinese labels (the default: the clerks' language).
    #[default]
    Zh,
    /// Field names and enum values as in the API.
    En,
}

/// A file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing the spreadsheet: {0}")]
pub struct ExportError(String);

fn file_error(reason: impl Into<String>) -> ImportError {
    ImportError {
        row: 0,
        column: None,
        reason: reason.into(),
    }
}

fn push_row(t: &mut Table, number: usize, cells: Vec<String>) {
    if t.headers.is_empty() {
        t.headers = cells.into_iter().map(|c| c.trim().to_owned()).collect();
    } else if cells.iter().any(|c| !c.trim().is_empty()) {
        t.rows.push(cells);
        t.row_numbers.push(number);
    }
}

/// Reads CSV bytes (UTF-8, UTF-8 with BOM, or GBK).
pub fn read_csv(bytes: &[u8]) -> Result<Table, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(_) => {
            let (t, _, bad) = encoding_rs::GBK.decode(bytes);
            if bad {
                return Err(file_error("the file is neither UTF-8 nor GBK text"));
            }
            t.into_owned()
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut table = Table::default();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ImportError {
            row: i + 1,
            column: None,
            reason: format!("not CSV: {e}"),
        })?;
        push_row(
            &mut table,
            i + 1,
            record.iter().map(str::to_owned).collect(),
        );
    }
    if table.headers.is_empty() {
        return Err(file_error("the file is empty"));
    }
    Ok(table)
}

fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Reads the first sheet of an XLSX workbook.
pub fn read_xlsx(bytes: &[u8]) -> Result<Table, ImportError> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| file_error(format!("not an XLSX workbook: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| file_error("the workbook has no sheet"))?
        .map_err(|e| file_error(format!("reading the first sheet: {e}")))?;
    let (first_row, _) = range.start().unwrap_or((0, 0));
    let mut table = Table::default();
    for (i, row) in range.rows().enumerate() {
        let cells = row
            .iter()
            .map(|c| match c {
                Data::Empty => String::new(),
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                Data::Float(f) => number_text(*f),
                Data::Int(n) => n.to_string(),
                Data::Bool(b) => b.to_string(),
                Data::DateTime(d) => {
                    // Excel serial days since 1899-12-30.
                    bjtime::date_of_day_number(d.as_f64().floor() as i64 - 25_569).to_string()
                }
                Data::Error(e) => format!("#ERROR {e:?}"),
            })
            .collect();
        push_row(&mut table, first_row as usize + i + 1, cells);
    }
    if table.headers.is_empty() {
        return Err(file_error("the sheet is empty"));
    }
    Ok(table)
}

fn parse_date(text: &str) -> Option<String> {
    let cleaned: String = text
        .trim()
        .replace(['/', '.', '年', '月'], "-")
        .replace('日', "");
    let parts: Vec<&str> = cleaned.split('-').collect();
    if parts.len() != 3 {
        return None;
    }
    let y: i32 = parts[0].parse().ok()?;
    let m: u32 = parts[1].parse().ok()?;
    let d: u32 = parts[2].parse().ok()?;
    bjtime::Date::new(y, m, d).map(|d| d.to_string())
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', '；', ',', '，', '、'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Reads one cell's text as a value of `field` (before the schema's checks).
pub fn parse_cell(field: &Field, text: &str) -> Result<Value, String> {
    let t = text.trim();
    Ok(match field.kind {
        FieldType::String => Value::String(t.to_owned()),
        FieldType::Integer => {
            let n: f64 = t.parse().map_err(|_| "must be a whole number")?;
            if n.fract() != 0.0 || n.abs() > 9e15 {
                return Err("must be a whole number".into());
            }
            Value::from(n as i64)
        }
        FieldType::Number => {
            let n: f64 = t.parse().map_err(|_| "must be a number")?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or("must be a finite number")?
        }
        FieldType::Boolean => match t.to_lowercase().as_str() {
            "是" | "true" | "yes" | "y" | "1" | "√" => Value::Bool(true),
            "否" | "false" | "no" | "n" | "0" | "×" => Value::Bool(false),
            _ => return Err("must be 是 or 否 (true or false)".into()),
        },
        FieldType::Date => Value::String(parse_date(t).ok_or("must be a date such as 2026-03-05")?),
        FieldType::Enum => {
            let i = field
                .values
                .iter()
                .position(|v| v == t || v.eq_ignore_ascii_case(t))
                .or_else(|| field.values_zh.iter().position(|v| v == t));
            match i {
                Some(i) => Value::String(field.values[i].clone()),
                None => {
                    let names = if field.values_zh.is_empty() {
                        &field.values
                    } else {
                        &field.values_zh
                    };
                    return Err(format!("must be one of {}", names.join("、")));
                }
            }
        }
        FieldType::Point => {
            let nums: Vec<f64> = t
                .split([',', '，', ' ', ';'])
                .filter(|s| !s.is_empty())
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| "must be longitude,latitude")?;
            match nums.as_slice() {
                [lon, lat] => serde_json::json!([lon, lat]),
                _ => return Err("must be longitude,latitude".into()),
            }
        }
        FieldType::Geometry => {
            serde_json::from_str(t).map_err(|_| "must be a GeoJSON geometry".to_owned())?
        }
        FieldType::NumberMap => {
            if t.starts_with('{') {
                serde_json::from_str(t)
                    .map_err(|_| "must be a JSON object of numbers".to_owned())?
            } else {
                let mut m = Map::new();
                for item in split_list(t) {
                    let (k, v) = item
                        .split_once(['=', ':', '：'])
                        .ok_or_else(|| format!("{item}: must be name=number"))?;
                    let n: f64 = v
                        .trim()
                        .parse()
                        .map_err(|_| format!("{item}: must be name=number"))?;
                    let n = serde_json::Number::from_f64(n).ok_or("must be a finite number")?;
                    m.insert(k.trim().to_owned(), Value::Number(n));
                }
                Value::Object(m)
            }
        }
        FieldType::StringList => {
            Value::Array(split_list(t).map(|s| Value::String(s.to_owned())).collect())
        }
        FieldType::CodeSettings => serde_json::from_str(t)
            .map_err(|_| "must be a JSON object of codes to their settings".to_owned())?,
    })
}

/// Matches headers to fields: each header must name a field once.
fn columns<'s>(
    schema: &'s Schema,
    headers: &[String],
) -> Result<Vec<Option<&'s Field>>, Vec<ImportError>> {
    let mut errors = Vec::new();
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            out.push(None);
            continue;
        }
        let f = schema
            .fields
            .iter()
            .find(|f| f.name == *h || f.label.eq_ignore_ascii_case(h) || f.label_zh == *h);
        match f {
            None => errors.push(ImportError {
                row: 1,
                column: Some(h.clone()),
                reason: format!("not a field of {} ({})", schema.title_zh, schema.name),
            }),
            Some(f) => {
                if let Some(first) = seen.insert(f.name.clone(), i) {
                    errors.push(ImportError {
                        row: 1,
                        column: Some(h.clone()),
                        reason: format!("the same field as column {}", first + 1),
                    });
                }
            }
        }
        out.push(f);
    }
    for f in schema.fields.iter().filter(|f| f.required) {
        let defaulted = schema.lifecycle.as_ref().is_some_and(|l| l.field == f.name);
        if !seen.contains_key(&f.name) && !defaulted {
            errors.push(ImportError {
                row: 1,
                column: Some(f.label_zh.clone()),
                reason: format!("required column missing ({})", f.name),
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Turns a sheet into validated entries, or every error in it (nothing partial).
pub fn import(schema: &Schema, table: &Table) -> Result<Vec<Map<String, Value>>, Vec<ImportError>> {
    let cols = columns(schema, &table.headers)?;
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for (cells, &row) in table.rows.iter().zip(&table.row_numbers) {
        let mut obj = Map::new();
        let mut header_of = BTreeMap::new();
        for (i, cell) in cells.iter().enumerate() {
            let Some(Some(field)) = cols.get(i) else {
                if !cell.trim().is_empty() && cols.get(i).is_none() {
                    errors.push(ImportError {
                        row,
                        column: None,
                        reason: format!("cell {} has no header", i + 1),
                    });
                }
                continue;
            };
            header_of.insert(field.name.clone(), table.headers[i].clone());
            if cell.trim().is_empty() {
                continue;
            }
            match parse_cell(field, cell) {
                Ok(v) => {
                    obj.insert(field.name.clone(), v);
                }
                Err(reason) => errors.push(ImportError {
                    row,
                    column: Some(table.headers[i].clone()),
                    reason,
                }),
            }
        }
        if let Some(key) = schema.key_of(&obj)
            && let Some(first) = keys.insert(key.clone(), row)
        {
            errors.push(ImportError {
                row,
                column: header_of.get(&schema.key).cloned(),
                reason: format!("{key} is also on row {first}"),
            });
        }
        match schema.validate(&obj) {
            Ok(entry) => entries.push(entry),
            Err(field_errors) => {
                for e in field_errors {
                    // A cell that failed to parse was left out: do not report it twice.
                    let column = header_of
                        .get(&e.field)
                        .cloned()
                        .or_else(|| schema.field(&e.field).map(|f| f.label_zh.clone()));
                    if !errors.iter().any(|x| x.row == row && x.column == column) {
                        errors.push(ImportError {
                            row,
                            column,
                            reason: e.reason,
                        });
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// An entry of the registry as it stands, for planning an import against it.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    /// Its version (the store's optimistic-concurrency counter).
    pub version: i64,
    /// Its data.
    pub data: Map<String, Value>,
}

/// One entry an import creates or changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The entry's key.
    pub id: String,
    /// The entry as it is to be.
    pub data: Map<String, Value>,
    /// The version it replaces (0: a new entry).
    pub expect_version: i64,
}

/// What an import would do: the entries it creates or changes (an entry whose file row says
/// what the registry already holds is left alone, so no history is written for it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportPlan {
    /// The changes, in file order.
    pub changes: Vec<Planned>,
    /// New entries.
    pub created: usize,
    /// Changed entries.
    pub updated: usize,
    /// Rows equal to the entry already held.
    pub unchanged: usize,
}

/// Plans an import of `table` into a registry whose entries are `current` (by key): parses and
/// validates every row ([`import`]), checks each change against the lifecycle, and compares
/// with what is held. All or nothing: any problem gives every problem, each naming its column
/// as the file's header names it.
pub fn plan_import(
    schema: &Schema,
    table: &Table,
    current: &BTreeMap<String, Current>,
) -> Result<ImportPlan, Vec<ImportError>> {
    let entries = import(schema, table)?;
    let header_of = |field: &str| {
        table
            .headers
            .iter()
            .find(|h| {
                schema.field(field).is_some_and(|f| {
                    f.name == **h || f.label.eq_ignore_ascii_case(h) || f.label_zh == **h
                })
            })
            .cloned()
            .unwrap_or_else(|| {
                schema
                    .field(field)
                    .map_or_else(|| field.to_owned(), |f| f.label_zh.clone())
            })
    };
    let mut plan = ImportPlan::default();
    let mut errors = Vec::new();
    for (mut entry, &row) in entries.into_iter().zip(&table.row_numbers) {
        let id = schema.key_of(&entry).unwrap_or_default();
        let before = current.get(&id);
        schema.keep_secrets(&mut entry, before.map(|b| &b.data));
        if let Err(e) = schema.check_transition(before.map(|b| &b.data), &entry) {
            errors.push(ImportError {
                row,
                column: Some(header_of(&e.field)),
                reason: e.reason,
            });
            continue;
        }
        match before {
            // Compared as the schema normalises both (entries stored by an earlier version
            // may hold a number as 256.0 where the file says 256).
            Some(b) if schema.validate(&b.data).as_ref() == Ok(&entry) => {
                plan.unchanged += 1;
                continue;
            }
            Some(_) => plan.updated += 1,
            None => plan.created += 1,
        }
        plan.changes.push(Planned {
            id,
            data: entry,
            expect_version: before.map_or(0, |b| b.version),
        });
    }
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(errors)
    }
}

/// One value as a cell's text.
pub fn cell_text(field: &Field, v: &Value, lang: Lang) -> String {
    match (field.kind, v) {
        (_, Value::Null) => String::new(),
        (FieldType::Enum, Value::String(s)) if lang == Lang::Zh => field
            .values
            .iter()
            .position(|x| x == s)
            .and_then(|i| field.values_zh.get(i))
            .cloned()
            .unwrap_or_else(|| s.clone()),
        (FieldType::Boolean, Value::Bool(b)) if lang == Lang::Zh => {
            (if *b { "是" } else { "否" }).to_owned()
        }
        (FieldType::Point, Value::Array(a)) if a.len() == 2 => format!("{},{}", a[0], a[1]),
        (FieldType::NumberMap, Value::Object(m)) => m
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(";"),
        (FieldType::CodeSettings, Value::Object(_)) => v.to_string(),
        (FieldType::StringList, Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(";"),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

fn header(field: &Field, lang: Lang) -> &str {
    match lang {
        Lang::Zh => &field.label_zh,
        Lang::En => &field.name,
    }
}

/// Entries as CSV (UTF-8 with BOM).
pub fn export_csv(schema: &Schema, entries: &[Map<String, Value>], lang: Lang) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let _ = w.write_record(schema.visible_fields().map(|f| header(f, lang)));
    for e in entries {
        let _ = w.write_record(
            schema
                .visible_fields()
                .map(|f| cell_text(f, e.get(&f.name).unwrap_or(&Value::Null), lang)),
        );
    }
    w.into_inner().unwrap_or_default()
}

/// Entries as an XLSX workbook (one sheet named after the registry).
pub fn export_xlsx(
    schema: &Schema,
    entries: &[Map<String, Value>],
    lang: Lang,
) -> Result<Vec<u8>, ExportError> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| ExportError(e.to_string());
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let title: String = match lang {
        Lang::Zh => schema.title_zh.chars().take(31).collect(),
        Lang::En => schema.name.chars().take(31).collect(),
    };
    sheet.set_name(&title).map_err(err)?;
    let bold = Format::new().set_bold();
    for (c, f) in schema.visible_fields().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, header(f, lang), &bold)
            .map_err(err)?;
    }
    for (r, e) in entries.iter().enumerate() {
        let row = r as u32 + 1;
        for (c, f) in schema.visible_fields().enumerate() {
            let v = e.get(&f.name).unwrap_or(&Value::Null);
            match (f.kind, v) {
                (_, Value::Null) => {}
                (FieldType::Integer | FieldType::Number, Value::Number(n)) => {
                    sheet
                        .write_number(row, c as u16, n.as_f64().unwrap_or(0.0))
                        .map_err(err)?;
                }
                _ => {
                    sheet
                        .write_string(row, c as u16, cell_text(f, v, lang))
                        .map_err(err)?;
                }
            }
        }
    }
    book.save_to_buffer().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outlets() -> Schema {
        crate::schemas()
            .into_iter()
            .find(|s| s.name == "sewage_outlets")
            .expect("shipped")
    }

    const GOOD: &str = "排污口编码,排污口名称,流域,受纳水体,排污口类型,区县,位置,状态\n\
        P001,北大沙河1号,黄河流域,北大沙河,工业,长清区,\"116.75,36.55\",已溯源\n\
        P002,小清河2号,黄河流域,小清河,城镇污水,历城区,,\n";

    #[test]
    fn chinese_headers_and_values_import() {
        let t = read_csv(GOOD.as_bytes()).expect("csv");
        let entries = import(&outlets(), &t).expect("imports");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["basin"], "yellow_river");
        assert_eq!(entries[0]["status"], "traced");
        assert_eq!(entries[0]["location"], serde_json::json!([116.75, 36.55]));
        assert_eq!(
            entries[1]["status"], "identified",
            "initial state when empty"
        );
    }

    #[test]
    fn gbk_csv_is_read() {
        let (gbk, _, _) = encoding_rs::GBK.encode(GOOD);
        let t = read_csv(&gbk).expect("csv");
        assert_eq!(t.headers[0], "排污口编码");
    }

    #[test]
    fn a_file_with_errors_imports_nothing_and_reports_every_one() {
        let bad = "code,name,basin,receiving_water,outlet_type,district,status,颜色\n\
                   P1,a,yellow_river,r,industrial,lixia,identified,red\n";
        let errors =
            import(&outlets(), &read_csv(bad.as_bytes()).expect("csv")).expect_err("bad header");
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].row, errors[0].column.as_deref()),
            (1, Some("颜色"))
        );

        let bad = "code,name,basin,receiving_water,outlet_type,district,location,remediated_on\n\
                   P1,a,yellow_river,r,industrial,lixia,\"116.7,36.5\",2026-02-30\n\
                   P2,b,amazon,r,industrial,lixia,,\n\
                   P1,c,yellow_river,r,industrial,nowhere,\"x,y\",\n\
                   ,d,yellow_river,r,industrial,lixia,,\n";
        let errors =
            import(&outlets(), &read_csv(bad.as_bytes()).expect("csv")).expect_err("bad rows");
        let got: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.row, e.column.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (2, Some("remediated_on")),
                (3, Some("basin")),
                (4, Some("district")),
                (4, Some("location")),
                (4, Some("code")),
                (5, Some("code")),
            ],
            "{errors:?}"
        );
        assert!(
            errors[1].reason.contains("黄河流域"),
            "{}",
            errors[1].reason
        );
    }

    #[test]
    fn export_and_import_round_trip_through_csv_and_xlsx() {
        let s = outlets();
        let entries = import(&s, &read_csv(GOOD.as_bytes()).expect("csv")).expect("imports");
        for lang in [Lang::Zh, Lang::En] {
            let csv = export_csv(&s, &entries, lang);
            assert_eq!(
                import(&s, &read_csv(&csv).expect("csv")).expect("re-import"),
                entries
            );
            let xlsx = export_xlsx(&s, &entries, lang).expect("xlsx");
            assert_eq!(
                import(&s, &read_xlsx(&xlsx).expect("xlsx")).expect("re-import"),
                entries
            );
        }
    }

    /// Every registry of the demo city, exported in each format and language and imported
    /// back: nothing changes.
    #[test]
    fn every_registry_of_the_demo_city_survives_its_own_round_trip() {
        let now = 1_796_000_000_000;
        let city = crate::demo::city(2026, now - 300 * 86_400_000, now);
        for schema in crate::schemas() {
            let mut current: BTreeMap<String, Current> = BTreeMap::new();
            for e in city.events.iter().filter(|e| e.registry == schema.name) {
                let data = schema.validate(&e.entry).expect("demo entries are valid");
                let id = schema.key_of(&data).expect("key");
                let version = current.get(&id).map_or(1, |c| c.version + 1);
                current.insert(id, Current { version, data });
            }
            if current.is_empty() {
                continue;
            }
            let entries: Vec<Map<String, Value>> =
                current.values().map(|c| c.data.clone()).collect();
            for lang in [Lang::Zh, Lang::En] {
                let files = [
                    ("csv", read_csv(&export_csv(&schema, &entries, lang))),
                    (
                        "xlsx",
                        read_xlsx(&export_xlsx(&schema, &entries, lang).expect("xlsx")),
                    ),
                ];
                for (format, table) in files {
                    let table = table.expect("readable");
                    let plan = plan_import(&schema, &table, &current).unwrap_or_else(|e| {
                        panic!(
                            "{} {format} {lang:?}: {:?}",
                            schema.name,
                            &e[..e.len().min(3)]
                        )
                    });
                    let first = plan.changes.first().map(|c| {
                        let before = &current[&c.id].data;
                        let diff: Vec<String> = c
                            .data
                            .iter()
                            .filter(|(k, v)| before.get(*k) != Some(v))
                            .map(|(k, v)| format!("{k}: {:?} -> {v}", before.get(k)))
                            .chain(
                                before
                                    .keys()
                                    .filter(|k| !c.data.contains_key(*k))
                                    .map(|k| format!("{k} dropped")),
                            )
                            .collect();
                        diff
                    });
                    assert_eq!(
                        (plan.created, plan.updated, plan.unchanged),
                        (0, 0, current.len()),
                        "{} {format} {lang:?}: {first:?}",
                        schema.name
                    );
                }
            }
        }
    }

    #[test]
    fn lifecycle_errors_name_the_column_as_the_file_does() {
        let s = outlets();
        let t = read_csv(GOOD.as_bytes()).expect("csv");
        let entries = import(&s, &t).expect("imports");
        let current: BTreeMap<String, Current> = entries
            .iter()
            .map(|e| {
                let mut data = e.clone();
                data.insert("status".into(), Value::String("remediated".into()));
                (s.key_of(e).expect("key"), Current { version: 3, data })
            })
            .collect();
        let errors = plan_import(&s, &t, &current).expect_err("a step back");
        assert!(!errors.is_empty());
        for e in &errors {
            assert_eq!(e.column.as_deref(), Some("状态"), "{e:?}");
        }
    }

    #[test]
    fn cells_in_the_forms_clerks_type() {
        let date = Field {
            name: "d".into(),
            label: "D".into(),
            label_zh: "日期".into(),
            kind: FieldType::Date,
            required: false,
            values: vec![],
            values_zh: vec![],
            values_en: vec![],
            min: None,
            max: None,
            secret: false,
            format: None,
        };
        for t in ["2026-03-05", "2026/3/5", "2026年3月5日", "2026.03.05"] {
            assert_eq!(
                parse_cell(&date, t),
                Ok(Value::String("2026-03-05".into())),
                "{t}"
            );
        }
        let totals = Field {
            kind: FieldType::NumberMap,
            ..date.clone()
        };
        assert_eq!(
            parse_cell(&totals, "COD=12.5；氨氮：1.2"),
            Ok(serde_json::json!({"COD": 12.5, "氨氮": 1.2}))
        );
        assert_eq!(
            parse_cell(&date, "2026/2/30"),
            Err("must be a date such as 2026-03-05".into())
        );
    }
}

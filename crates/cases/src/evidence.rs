//! The evidence package of a case: one ZIP a lawyer, a court or a provincial reviewer can open
//! without the platform.
//!
//! Contents: `summary.html` (readable: the case, its chain verdict, its events, its alarms, the
//! file list), `case.json`, `events.json` (the chained events exactly as stored), `chain.json`
//! (the verification), `alarms.json` (each alarm with its evidence and events), `data/*.csv` (the
//! data windows around the alarms, every field with its flags), `packets.csv` (the raw frames as
//! received, with CRC verdicts and receive times: `text` to read, `raw_hex` the exact bytes the
//! CRC is computed over, so anyone can check it from the package alone), `attachments/*` and `manifest.json` (SHA-256
//! of every other file, so a file changed after export is detectable too).

use std::io::Write;

use serde::Serialize;
use zip::write::SimpleFileOptions;

use crate::{AttachmentRef, CaseEvent, ChainError};

/// A data window around a case's alarms.
#[derive(Debug, Clone, PartialEq)]
pub struct DataWindow {
    /// The monitoring point.
    pub point_id: String,
    /// Start, Unix ms.
    pub from_ms: i64,
    /// End, Unix ms.
    pub to_ms: i64,
    /// The observations as CSV (time, series, code, fields).
    pub csv: String,
}

/// Everything that goes into a package, gathered by the server.
#[derive(Debug, Clone)]
pub struct EvidencePackage {
    /// Case id.
    pub case_id: i64,
    /// The case as its events make it (JSON).
    pub case: serde_json::Value,
    /// The case's events as stored.
    pub events: Vec<CaseEvent>,
    /// The chain's verification.
    pub chain: Result<(), ChainError>,
    /// The case's alarms with evidence and events (a JSON array).
    pub alarms: serde_json::Value,
    /// Data windows.
    pub data: Vec<DataWindow>,
    /// Raw packets as CSV.
    pub packets_csv: String,
    /// Attachments with their content.
    pub attachments: Vec<(AttachmentRef, Vec<u8>)>,
    /// When the package was made, Unix ms.
    pub generated_ms: i64,
    /// Who made it.
    pub generated_by: String,
}

/// Writing the ZIP failed.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The ZIP writer failed.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Writing into the archive failed.
    #[error("writing the archive: {0}")]
    Io(#[from] std::io::Error),
    /// JSON rendering failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Serialize)]
struct ManifestEntry {
    path: String,
    bytes: usize,
    sha256: String,
}

fn time(ms: i64) -> String {
    bjtime::rfc3339_ms(ms)
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A file name safe inside the archive (no directories, no control characters).
fn safe_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('.').to_owned();
    if trimmed.is_empty() {
        "file".into()
    } else {
        trimmed
    }
}

impl EvidencePackage {
    /// The files of the package (path, content), without the manifest.
    pub fn files(&self) -> Result<Vec<(String, Vec<u8>)>, EvidenceError> {
        let mut files: Vec<(String, Vec<u8>)> = vec![
            ("case.json".into(), serde_json::to_vec_pretty(&self.case)?),
            (
                "events.json".into(),
                serde_json::to_vec_pretty(&self.events)?,
            ),
            (
                "chain.json".into(),
                serde_json::to_vec_pretty(&match &self.chain {
                    Ok(()) => serde_json::json!({"valid": true, "events": self.events.len()}),
                    Err(e) => serde_json::json!({"valid": false, "first_broken": e}),
                })?,
            ),
            (
                "alarms.json".into(),
                serde_json::to_vec_pretty(&self.alarms)?,
            ),
            ("packets.csv".into(), self.packets_csv.clone().into_bytes()),
        ];
        for w in &self.data {
            files.push((
                format!(
                    "data/{}_{}.csv",
                    safe_name(&w.point_id),
                    bjtime::compact_ms(w.from_ms)
                ),
                w.csv.clone().into_bytes(),
            ));
        }
        for (a, bytes) in &self.attachments {
            files.push((
                format!("attachments/{}_{}", a.id, safe_name(&a.name)),
                bytes.clone(),
            ));
        }
        let summary = self.summary_html(&files);
        files.insert(0, ("summary.html".into(), summary.into_bytes()));
        Ok(files)
    }

    /// The package as a ZIP archive in memory.
    pub fn to_zip(&self) -> Result<Vec<u8>, EvidenceError> {
        let files = self.files()?;
        let manifest: Vec<ManifestEntry> = files
            .iter()
            .map(|(p, b)| ManifestEntry {
                path: p.clone(),
                bytes: b.len(),
                sha256: crate::sha256_hex(b),
            })
            .collect();
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (path, bytes) in &files {
            zip.start_file(path.as_str(), options)?;
            zip.write_all(bytes)?;
        }
        zip.start_file("manifest.json", options)?;
        zip.write_all(&serde_json::to_vec_pretty(&serde_json::json!({
            "case": self.case_id,
            "generated": time(self.generated_ms),
            "generated_by": self.generated_by,
            "files": manifest,
        }))?)?;
        Ok(zip.finish()?.into_inner())
    }

    fn summary_html(&self, files: &[(String, Vec<u8>)]) -> String {
        let e = html_escape;
        let field = |k: &str| {
            self.case
                .get(k)
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "—".into(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "—".into())
        };
        let mut h = String::new();
        h.push_str("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">");
        h.push_str(&format!(
            "<title>案件 {id} 证据包 / Case {id} evidence</title>",
            id = self.case_id
        ));
        h.push_str("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}.bad{color:#b00}.ok{color:#070}</style></head><body>");
        h.push_str(&format!(
            "<h1>案件 {} 证据包 · Case {} evidence package</h1>",
            self.case_id, self.case_id
        ));
        h.push_str("<table>");
        for (label, key) in [
            ("标题 Title", "title"),
            ("状态 State", "state"),
            ("来源 Source", "source"),
            ("企业 Enterprise", "enterprise"),
            ("区县 District", "district"),
            ("点位 Point", "point_id"),
            ("承办人 Officer", "officer"),
            ("方式 Mode", "mode"),
        ] {
            h.push_str(&format!(
                "<tr><th>{}</th><td>{}</td></tr>",
                label,
                e(&field(key))
            ));
        }
        h.push_str(&format!(
            "<tr><th>生成 Generated</th><td>{} by {}</td></tr></table>",
            e(&time(self.generated_ms)),
            e(&self.generated_by)
        ));
        match &self.chain {
            Ok(()) => h.push_str(&format!(
                "<p class=\"ok\">事件链完整 · Event chain verified: {} events, last hash {}</p>",
                self.events.len(),
                e(self.events.last().map_or("—", |ev| ev.hash.as_str()))
            )),
            Err(err) => h.push_str(&format!(
                "<p class=\"bad\">事件链被破坏 · Event chain BROKEN: {}</p>",
                e(&err.to_string())
            )),
        }
        h.push_str("<h2>事件 Events</h2><table><tr><th>#</th><th>时间 Time</th><th>人员 Actor</th><th>动作 Action</th><th>内容 Content</th></tr>");
        for ev in &self.events {
            let name = ev.action().map(|a| a.name()).unwrap_or("?");
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                ev.seq,
                e(&time(ev.at_ms)),
                e(&ev.actor),
                name,
                e(&ev.action_json)
            ));
        }
        h.push_str("</table><h2>报警 Alarms</h2><table><tr><th>ID</th><th>规则 Rule</th><th>点位 Point</th><th>因子 Code</th><th>状态 State</th><th>开始 Start</th><th>说明 Explanation</th></tr>");
        if let Some(alarms) = self.alarms.as_array() {
            for a in alarms {
                let s = |k: &str| {
                    a.get(k)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .unwrap_or_default()
                };
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    e(&s("id")),
                    e(&s("rule")),
                    e(&s("point_id")),
                    e(&s("code")),
                    e(&s("state")),
                    e(&s("start")),
                    e(&s("explanation"))
                ));
            }
        }
        h.push_str("</table><h2>文件 Files</h2><table><tr><th>文件 File</th><th>字节 Bytes</th><th>SHA-256</th></tr>");
        for (p, b) in files {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                e(p),
                b.len(),
                crate::sha256_hex(b)
            ));
        }
        h.push_str("</table></body></html>\n");
        h
    }
}

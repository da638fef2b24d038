//! Registry entries and their history.
//!
//! [`RegistryStore`] keeps the current entry of every (registry, key) and, for every change,
//! a history row with who, when, the version, and the entry before and after. Any registry can
//! be read as of a past instant from the history alone. Changes are applied in one transaction
//! per call (an import is all or nothing); a change may name the version it expects (optimistic
//! concurrency: two clerks editing the same entry do not overwrite each other silently).

use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value};

use domain::POINTS_REGISTRY;

use crate::{SqliteStore, StoreError, json_err};

/// A points-registry entry about to be written: it keeps the stored password when it comes
/// without one (forms and spreadsheets never carry it), and its MN must be no other point's.
fn point_entry(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    data: &Map<String, Value>,
    before: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, StoreError> {
    let mut data = data.clone();
    let no_password = data
        .get("password")
        .is_none_or(|p| p.as_str().is_none_or(str::is_empty));
    if no_password {
        data.remove("password");
        if let Some(p) = before.and_then(|b| b.get("password")) {
            data.insert("password".into(), p.clone());
        }
    }
    if let Some(mn) = data.get("mn").and_then(Value::as_str) {
        let other: Option<String> = tx
            // The registry named literally, so that the partial index on MNs applies.
            .prepare_cached(&format!(
                "SELECT id FROM registry_entries WHERE registry = '{POINTS_REGISTRY}' AND id <> ?1
                 AND json_extract(body, '$.mn') = ?2"
            ))?
            .query_row(params![id, mn], |r| r.get(0))
            .optional()?;
        if let Some(other) = other {
            return Err(StoreError::Conflict(format!(
                "MN {mn} already belongs to point {other}"
            )));
        }
    }
    Ok(data)
}

/// Moves the points of a data directory made when points had a table of their own into the
/// points registry: a point the registry lacks becomes an entry; an entry that lacks the
/// point's password, CRC variants or codes takes them. The table is then dropped.
pub(crate) fn points_from_their_own_table(
    conn: &mut rusqlite::Connection,
) -> Result<(), StoreError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'points')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(());
    }
    // The wall clock: this records when the migration ran, not a platform event.
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let tx = conn.transaction()?;
    let bodies: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT id, body FROM points ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, body) in bodies {
        let point: Map<String, Value> = serde_json::from_str(&body).map_err(json_err("points"))?;
        let current: Option<(i64, String)> = tx
            .query_row(
                "SELECT version, body FROM registry_entries WHERE registry = ?1 AND id = ?2",
                params![POINTS_REGISTRY, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (version, before) = match current {
            Some((v, b)) => (v, Some(parse(Some(b))?.unwrap_or_default())),
            None => (0, None),
        };
        let mut after = before.clone().unwrap_or_else(|| point.clone());
        for field in ["password", "accepted_crc", "codes"] {
            if !after.contains_key(field)
                && let Some(v) = point.get(field)
            {
                after.insert(field.into(), v.clone());
            }
        }
        if before.as_ref() == Some(&after) {
            continue;
        }
        let text = |m: &Map<String, Value>| serde_json::to_string(m).map_err(json_err("registry"));
        tx.execute(
            "INSERT INTO registry_entries (registry, id, version, updated_ms, updated_by, body)
             VALUES (?1, ?2, ?3, ?4, 'migration', ?5)
             ON CONFLICT (registry, id) DO UPDATE SET version = excluded.version,
               updated_ms = excluded.updated_ms, updated_by = excluded.updated_by, body = excluded.body",
            params![POINTS_REGISTRY, id, version + 1, at_ms, text(&after)?],
        )?;
        tx.execute(
            "INSERT INTO registry_history (registry, id, version, at_ms, actor, before, after)
             VALUES (?1, ?2, ?3, ?4, 'migration', ?5, ?6)",
            params![
                POINTS_REGISTRY,
                id,
                version + 1,
                at_ms,
                before.as_ref().map(text).transpose()?,
                text(&after)?
            ],
        )?;
    }
    tx.execute_batch("DROP TABLE points")?;
    tx.commit()?;
    Ok(())
}

/// A current entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The entry's key (its schema's key field).
    pub id: String,
    /// Version, 1 for a new entry, +1 per change.
    pub version: i64,
    /// Last change, Unix ms.
    pub updated_ms: i64,
    /// Who made the last change.
    pub updated_by: String,
    /// The entry.
    pub data: Map<String, Value>,
}

/// One change to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Create or replace the entry `id`.
    Put {
        /// Key.
        id: String,
        /// The entry as it is to be.
        data: Map<String, Value>,
        /// Fail unless the current version is this (0: must not exist yet).
        expect_version: Option<i64>,
    },
    /// Delete the entry `id`.
    Delete {
        /// Key.
        id: String,
        /// Fail unless the current version is this.
        expect_version: Option<i64>,
    },
}

/// One row of an entry's history.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryChange {
    /// Key.
    pub id: String,
    /// The version this change produced.
    pub version: i64,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// The entry before (none when created).
    pub before: Option<Map<String, Value>>,
    /// The entry after (none when deleted).
    pub after: Option<Map<String, Value>>,
}

/// Storage of registry entries with history. See the [module docs](self).
pub trait RegistryStore: Send + Sync + 'static {
    /// Applies changes in one transaction: all or none. Unchanged puts are skipped (no history
    /// row). Returns the history rows written.
    fn apply(
        &self,
        registry: &str,
        changes: &[Change],
        actor: &str,
        at_ms: i64,
    ) -> Result<Vec<EntryChange>, StoreError>;
    /// Applies dated changes (oldest first) in one transaction, each with its own time: for
    /// loading a registry together with its past (the demo city, a migration).
    fn apply_dated(
        &self,
        registry: &str,
        changes: &[(i64, Change)],
        actor: &str,
    ) -> Result<usize, StoreError>;
    /// One current entry.
    fn entry(&self, registry: &str, id: &str) -> Result<Option<Entry>, StoreError>;
    /// Every current entry of a registry.
    fn entries(&self, registry: &str) -> Result<Vec<Entry>, StoreError>;
    /// The entries as they were at `at_ms` (from the history).
    fn entries_as_of(&self, registry: &str, at_ms: i64) -> Result<Vec<Entry>, StoreError>;
    /// An entry's history, oldest first.
    fn entry_history(&self, registry: &str, id: &str) -> Result<Vec<EntryChange>, StoreError>;
}

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS registry_entries (
    registry TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (registry, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS registry_history (
    registry TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    before TEXT,
    after TEXT,
    PRIMARY KEY (registry, id, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS registry_history_by_time ON registry_history (registry, at_ms);
CREATE INDEX IF NOT EXISTS registry_points_by_mn ON registry_entries (json_extract(body, '$.mn'))
    WHERE registry = 'monitoring_points';
"#;

fn parse(text: Option<String>) -> Result<Option<Map<String, Value>>, StoreError> {
    text.map(|t| serde_json::from_str(&t).map_err(json_err("registry")))
        .transpose()
}

fn version_conflict(id: &str, expected: i64, actual: i64) -> StoreError {
    StoreError::Conflict(if expected == 0 {
        format!("{id:?} exists already (version {actual})")
    } else {
        format!("{id}: expected version {expected}, the entry is at version {actual}")
    })
}

impl SqliteStore {
    pub(crate) fn apply_in_one(
        &self,
        registry: &str,
        changes: &[(i64, &Change)],
        actor: &str,
    ) -> Result<Vec<EntryChange>, StoreError> {
        self.with_side_writer(|conn| {
            let tx = conn.transaction()?;
            let mut written = Vec::new();
            for &(at_ms, change) in changes {
                let (id, expect) = match change {
                    Change::Put { id, expect_version, .. } | Change::Delete { id, expect_version } => {
                        (id, *expect_version)
                    }
                };
                let current: Option<(i64, String)> = tx
                    .prepare_cached(
                        "SELECT version, body FROM registry_entries WHERE registry = ?1 AND id = ?2",
                    )?
                    .query_row(params![registry, id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let version = current.as_ref().map_or(0, |c| c.0);
                if let Some(e) = expect
                    && e != version
                {
                    return Err(version_conflict(id, e, version));
                }
                let before = parse(current.map(|c| c.1))?;
                let after = match change {
                    Change::Put { data, .. } => {
                        let kept;
                        let data = if registry == POINTS_REGISTRY {
                            kept = point_entry(&tx, id, data, before.as_ref())?;
                            &kept
                        } else {
                            data
                        };
                        if before.as_ref() == Some(data) {
                            continue;
                        }
                        let body = serde_json::to_string(data).map_err(json_err("registry"))?;
                        tx.prepare_cached(
                            "INSERT INTO registry_entries (registry, id, version, updated_ms, updated_by, body)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                             ON CONFLICT (registry, id) DO UPDATE SET version = excluded.version,
                               updated_ms = excluded.updated_ms, updated_by = excluded.updated_by,
                               body = excluded.body",
                        )?
                        .execute(params![registry, id, version + 1, at_ms, actor, body])?;
                        Some(data.clone())
                    }
                    Change::Delete { .. } => {
                        if before.is_none() {
                            return Err(StoreError::NotFound(format!("{registry}/{id}")));
                        }
                        tx.prepare_cached("DELETE FROM registry_entries WHERE registry = ?1 AND id = ?2")?
                            .execute(params![registry, id])?;
                        None
                    }
                };
                let text = |m: &Option<Map<String, Value>>| {
                    m.as_ref()
                        .map(|m| serde_json::to_string(m).map_err(json_err("registry")))
                        .transpose()
                };
                tx.prepare_cached(
                    "INSERT INTO registry_history (registry, id, version, at_ms, actor, before, after)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![registry, id, version + 1, at_ms, actor, text(&before)?, text(&after)?])?;
                written.push(EntryChange {
                    id: id.clone(),
                    version: version + 1,
                    at_ms,
                    actor: actor.to_owned(),
                    before,
                    after,
                });
            }
            tx.commit()?;
            Ok(written)
        })
    }
}

impl RegistryStore for SqliteStore {
    fn apply(
        &self,
        registry: &str,
        changes: &[Change],
        actor: &str,
        at_ms: i64,
    ) -> Result<Vec<EntryChange>, StoreError> {
        let dated: Vec<(i64, &Change)> = changes.iter().map(|c| (at_ms, c)).collect();
        self.apply_in_one(registry, &dated, actor)
    }

    fn apply_dated(
        &self,
        registry: &str,
        changes: &[(i64, Change)],
        actor: &str,
    ) -> Result<usize, StoreError> {
        let dated: Vec<(i64, &Change)> = changes.iter().map(|(t, c)| (*t, c)).collect();
        Ok(self.apply_in_one(registry, &dated, actor)?.len())
    }

    fn entry(&self, registry: &str, id: &str) -> Result<Option<Entry>, StoreError> {
        self.with_reader(|conn| {
            let row: Option<(i64, i64, String, String)> = conn
                .prepare_cached(
                    "SELECT version, updated_ms, updated_by, body FROM registry_entries
                     WHERE registry = ?1 AND id = ?2",
                )?
                .query_row(params![registry, id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            row.map(|(version, updated_ms, updated_by, body)| {
                Ok(Entry {
                    id: id.to_owned(),
                    version,
                    updated_ms,
                    updated_by,
                    data: serde_json::from_str(&body).map_err(json_err("registry"))?,
                })
            })
            .transpose()
        })
    }

    fn entries(&self, registry: &str) -> Result<Vec<Entry>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, version, updated_ms, updated_by, body FROM registry_entries
                 WHERE registry = ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query([registry])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let body: String = r.get(4)?;
                out.push(Entry {
                    id: r.get(0)?,
                    version: r.get(1)?,
                    updated_ms: r.get(2)?,
                    updated_by: r.get(3)?,
                    data: serde_json::from_str(&body).map_err(json_err("registry"))?,
                });
            }
            Ok(out)
        })
    }

    fn entries_as_of(&self, registry: &str, at_ms: i64) -> Result<Vec<Entry>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT h.id, h.version, h.at_ms, h.actor, h.after FROM registry_history h
                 JOIN (SELECT id, MAX(version) AS v FROM registry_history
                       WHERE registry = ?1 AND at_ms <= ?2 GROUP BY id) m
                   ON h.id = m.id AND h.version = m.v
                 WHERE h.registry = ?1 AND h.after IS NOT NULL ORDER BY h.id",
            )?;
            let mut rows = stmt.query(params![registry, at_ms])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let body: String = r.get(4)?;
                out.push(Entry {
                    id: r.get(0)?,
                    version: r.get(1)?,
                    updated_ms: r.get(2)?,
                    updated_by: r.get(3)?,
                    data: serde_json::from_str(&body).map_err(json_err("registry"))?,
                });
            }
            Ok(out)
        })
    }

    fn entry_history(&self, registry: &str, id: &str) -> Result<Vec<EntryChange>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT version, at_ms, actor, before, after FROM registry_history
                 WHERE registry = ?1 AND id = ?2 ORDER BY version",
            )?;
            let mut rows = stmt.query(params![registry, id])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(EntryChange {
                    id: id.to_owned(),
                    version: r.get(0)?,
                    at_ms: r.get(1)?,
                    actor: r.get(2)?,
                    before: parse(r.get(3)?)?,
                    after: parse(r.get(4)?)?,
                });
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> (tempfile::TempDir, Box<dyn RegistryStore>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = SqliteStore::open(&dir.path().join("huanghe.db")).expect("opens");
        (dir, Box::new(s))
    }

    fn put(id: &str, status: &str) -> Change {
        Change::Put {
            id: id.into(),
            data: json!({"code": id, "status": status})
                .as_object()
                .cloned()
                .expect("object"),
            expect_version: None,
        }
    }

    #[test]
    fn history_keeps_who_when_before_after_and_answers_as_of() {
        let (_d, s) = store();
        s.apply(
            "outlets",
            &[put("P1", "identified"), put("P2", "identified")],
            "clerk",
            1_000,
        )
        .expect("apply");
        s.apply("outlets", &[put("P1", "traced")], "officer", 2_000)
            .expect("apply");
        // Unchanged: no new version.
        assert!(
            s.apply("outlets", &[put("P1", "traced")], "officer", 2_500)
                .expect("apply")
                .is_empty()
        );
        s.apply(
            "outlets",
            &[Change::Delete {
                id: "P2".into(),
                expect_version: Some(1),
            }],
            "clerk",
            3_000,
        )
        .expect("delete");

        let h = s.entry_history("outlets", "P1").expect("history");
        assert_eq!(h.len(), 2);
        assert_eq!(
            (h[1].actor.as_str(), h[1].at_ms, h[1].version),
            ("officer", 2_000, 2)
        );
        assert_eq!(
            h[1].before.as_ref().map(|b| b["status"].clone()),
            Some(json!("identified"))
        );
        assert_eq!(
            h[1].after.as_ref().map(|b| b["status"].clone()),
            Some(json!("traced"))
        );

        let status = |at: i64| -> Vec<(String, Value)> {
            s.entries_as_of("outlets", at)
                .expect("as of")
                .into_iter()
                .map(|e| (e.id, e.data["status"].clone()))
                .collect()
        };
        assert!(status(999).is_empty());
        assert_eq!(
            status(1_500),
            [
                ("P1".into(), json!("identified")),
                ("P2".into(), json!("identified"))
            ]
        );
        assert_eq!(
            status(2_000),
            [
                ("P1".into(), json!("traced")),
                ("P2".into(), json!("identified"))
            ]
        );
        assert_eq!(status(3_000), [("P1".into(), json!("traced"))]);
        assert_eq!(s.entries("outlets").expect("entries").len(), 1);
    }

    #[test]
    fn a_failing_change_applies_nothing_and_versions_are_checked() {
        let (_d, s) = store();
        s.apply("outlets", &[put("P1", "identified")], "clerk", 1_000)
            .expect("apply");
        let stale = Change::Put {
            id: "P1".into(),
            data: json!({"code": "P1", "status": "traced"})
                .as_object()
                .cloned()
                .expect("object"),
            expect_version: Some(0),
        };
        let r = s.apply("outlets", &[put("P9", "identified"), stale], "clerk", 2_000);
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        assert!(
            s.entry("outlets", "P9").expect("read").is_none(),
            "all or nothing"
        );
        let r = s.apply(
            "outlets",
            &[Change::Delete {
                id: "P7".into(),
                expect_version: None,
            }],
            "c",
            3,
        );
        assert!(matches!(r, Err(StoreError::NotFound(_))));
    }
}

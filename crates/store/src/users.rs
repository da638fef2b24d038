//! Users, their sessions and API tokens, and the audit log.
//!
//! Passwords are kept as the PHC strings the `access` crate makes; sessions and tokens only as
//! the SHA-256 digest of their secret, so reading the database does not give anyone a login.
//! The audit log is append-only: one row per write through the API (who, what, when, the
//! status, and the resource before and after where there is one).

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::{SqliteStore, StoreError};

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User name (unique).
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role (`access::Role` by name).
    pub role: String,
    /// District, for district officers.
    pub district: Option<String>,
    /// Enterprise credit code, for enterprise users.
    pub enterprise: Option<String>,
    /// Argon2id PHC string.
    #[serde(skip_serializing, default)]
    pub password_hash: String,
    /// Disabled users cannot log in and their sessions and tokens stop working.
    pub disabled: bool,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Last changed, Unix ms.
    pub updated_ms: i64,
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Token id.
    pub id: i64,
    /// Owner.
    pub username: String,
    /// What it is for.
    pub label: String,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Last used, Unix ms.
    pub last_used_ms: Option<i64>,
    /// Revoked, Unix ms.
    pub revoked_ms: Option<i64>,
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Row id.
    pub id: i64,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Who (user name; `-` when unauthenticated, e.g. a failed login).
    pub actor: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Response status.
    pub status: u16,
    /// The resource before (JSON), where there was one.
    pub before: Option<serde_json::Value>,
    /// The request body or the resource after (JSON), where there is one.
    pub after: Option<serde_json::Value>,
}

/// A filter on the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only paths starting with this.
    pub path_prefix: Option<String>,
    /// From, Unix ms (inclusive).
    pub from_ms: Option<i64>,
    /// To, Unix ms (exclusive).
    pub to_ms: Option<i64>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// Storage of users, sessions, tokens and the audit log. See the [module docs](self).
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user; `Conflict` if the name is taken.
    fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// Replaces a user's record (by name); `NotFound` if there is none.
    fn update_user(&self, user: &User) -> Result<(), StoreError>;
    /// One user.
    fn user(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Records a session (by the digest of its secret).
    fn create_session(
        &self,
        digest: &str,
        username: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), StoreError>;
    /// The user of a live session, extending it to `extend_to_ms` (sliding expiry).
    fn session_user(
        &self,
        digest: &str,
        now_ms: i64,
        extend_to_ms: i64,
    ) -> Result<Option<User>, StoreError>;
    /// Ends a session.
    fn delete_session(&self, digest: &str) -> Result<(), StoreError>;
    /// Ends every session of a user (password change, disabling).
    fn delete_sessions_of(&self, username: &str) -> Result<(), StoreError>;
    /// Records an API token; returns its id.
    fn create_token(
        &self,
        digest: &str,
        username: &str,
        label: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError>;
    /// The user of a live (not revoked) token, noting its use.
    fn token_user(&self, digest: &str, now_ms: i64) -> Result<Option<User>, StoreError>;
    /// The tokens of a user (every user's when `None`).
    fn tokens(&self, username: Option<&str>) -> Result<Vec<Token>, StoreError>;
    /// Revokes a token; `NotFound` if there is none.
    fn revoke_token(&self, id: i64, now_ms: i64) -> Result<Token, StoreError>;
    /// Appends an audit row; returns its id.
    fn audit(&self, entry: &AuditEntry) -> Result<i64, StoreError>;
    /// Audit rows, newest first.
    fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;
}

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    district TEXT,
    enterprise TEXT,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL REFERENCES users (username),
    label TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked_ms INTEGER
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit_log (at_ms);
"#;

const USER_COLUMNS: &str = "username, display_name, role, district, enterprise, password_hash, disabled, created_ms, updated_ms";
/// [`USER_COLUMNS`] of the `users` table aliased `u`, for joins.
const U_COLUMNS: &str = "u.username, u.display_name, u.role, u.district, u.enterprise, u.password_hash, u.disabled, u.created_ms, u.updated_ms";

fn row_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        username: r.get(0)?,
        display_name: r.get(1)?,
        role: r.get(2)?,
        district: r.get(3)?,
        enterprise: r.get(4)?,
        password_hash: r.get(5)?,
        disabled: r.get::<_, i64>(6)? != 0,
        created_ms: r.get(7)?,
        updated_ms: r.get(8)?,
    })
}

fn row_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<Token> {
    Ok(Token {
        id: r.get(0)?,
        username: r.get(1)?,
        label: r.get(2)?,
        created_ms: r.get(3)?,
        last_used_ms: r.get(4)?,
        revoked_ms: r.get(5)?,
    })
}

fn json_text(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(serde_json::Value::to_string)
}

fn parse_json(text: Option<String>) -> Option<serde_json::Value> {
    // Audit rows hold what the API saw; a body that was not JSON is kept as a string.
    text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
}

impl UserStore for SqliteStore {
    fn create_user(&self, u: &User) -> Result<(), StoreError> {
        self.with_side_writer(|c| {
            let n = c.execute(
                &format!("INSERT OR IGNORE INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![u.username, u.display_name, u.role, u.district, u.enterprise, u.password_hash, u.disabled as i64, u.created_ms, u.updated_ms],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("user {:?} exists", u.username)));
            }
            Ok(())
        })
    }

    fn update_user(&self, u: &User) -> Result<(), StoreError> {
        self.with_side_writer(|c| {
            let n = c.execute(
                "UPDATE users SET display_name = ?2, role = ?3, district = ?4, enterprise = ?5, password_hash = ?6, disabled = ?7, updated_ms = ?8 WHERE username = ?1",
                params![u.username, u.display_name, u.role, u.district, u.enterprise, u.password_hash, u.disabled as i64, u.updated_ms],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("no user {:?}", u.username)));
            }
            Ok(())
        })
    }

    fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.with_reader(|c| {
            Ok(c.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
                [username],
                row_user,
            )
            .optional()?)
        })
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.with_reader(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY username"
            ))?;
            let rows = st.query_map([], row_user)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn create_session(
        &self,
        digest: &str,
        username: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        self.with_side_writer(|c| {
            // Expired sessions are removed as new ones are made, so the table stays small.
            c.execute("DELETE FROM sessions WHERE expires_ms < ?1", [now_ms])?;
            c.execute(
                "INSERT INTO sessions (digest, username, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
                params![digest, username, now_ms, expires_ms],
            )?;
            Ok(())
        })
    }

    fn session_user(
        &self,
        digest: &str,
        now_ms: i64,
        extend_to_ms: i64,
    ) -> Result<Option<User>, StoreError> {
        let found = self.with_reader(|c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {U_COLUMNS}, s.expires_ms FROM sessions s JOIN users u ON u.username = s.username \
                     WHERE s.digest = ?1 AND s.expires_ms > ?2 AND u.disabled = 0"
                ),
                params![digest, now_ms],
                |r| Ok((row_user(r)?, r.get::<_, i64>(9)?)),
            )
            .optional()?)
        })?;
        let Some((user, expires_ms)) = found else {
            return Ok(None);
        };
        // The expiry slides at most once a minute: most requests only read.
        if extend_to_ms - expires_ms >= 60_000 {
            self.with_side_writer(|c| {
                c.execute(
                    "UPDATE sessions SET expires_ms = ?2 WHERE digest = ?1",
                    params![digest, extend_to_ms],
                )?;
                Ok(())
            })?;
        }
        Ok(Some(user))
    }

    fn delete_session(&self, digest: &str) -> Result<(), StoreError> {
        self.with_side_writer(|c| {
            c.execute("DELETE FROM sessions WHERE digest = ?1", [digest])?;
            Ok(())
        })
    }

    fn delete_sessions_of(&self, username: &str) -> Result<(), StoreError> {
        self.with_side_writer(|c| {
            c.execute("DELETE FROM sessions WHERE username = ?1", [username])?;
            Ok(())
        })
    }

    fn create_token(
        &self,
        digest: &str,
        username: &str,
        label: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        self.with_side_writer(|c| {
            c.execute(
                "INSERT INTO api_tokens (digest, username, label, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![digest, username, label, now_ms],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn token_user(&self, digest: &str, now_ms: i64) -> Result<Option<User>, StoreError> {
        let found = self.with_reader(|c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {U_COLUMNS}, t.id, t.last_used_ms FROM api_tokens t JOIN users u ON u.username = t.username \
                     WHERE t.digest = ?1 AND t.revoked_ms IS NULL AND u.disabled = 0"
                ),
                [digest],
                |r| Ok((r.get::<_, i64>(9)?, r.get::<_, Option<i64>>(10)?, row_user(r)?)),
            )
            .optional()?)
        })?;
        let Some((id, last, user)) = found else {
            return Ok(None);
        };
        // Last use is recorded to the minute: a busy integration does not write on every call.
        if last.is_none_or(|l| now_ms - l >= 60_000) {
            self.with_side_writer(|c| {
                c.execute(
                    "UPDATE api_tokens SET last_used_ms = ?2 WHERE id = ?1",
                    params![id, now_ms],
                )?;
                Ok(())
            })?;
        }
        Ok(Some(user))
    }

    fn tokens(&self, username: Option<&str>) -> Result<Vec<Token>, StoreError> {
        self.with_reader(|c| {
            let mut st = c.prepare(
                "SELECT id, username, label, created_ms, last_used_ms, revoked_ms FROM api_tokens \
                 WHERE ?1 IS NULL OR username = ?1 ORDER BY id",
            )?;
            let rows = st.query_map([username], row_token)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn revoke_token(&self, id: i64, now_ms: i64) -> Result<Token, StoreError> {
        self.with_side_writer(|c| {
            c.execute(
                "UPDATE api_tokens SET revoked_ms = COALESCE(revoked_ms, ?2) WHERE id = ?1",
                params![id, now_ms],
            )?;
            c.query_row(
                "SELECT id, username, label, created_ms, last_used_ms, revoked_ms FROM api_tokens WHERE id = ?1",
                [id],
                row_token,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no token {id}")))
        })
    }

    fn audit(&self, e: &AuditEntry) -> Result<i64, StoreError> {
        self.with_side_writer(|c| {
            c.execute(
                "INSERT INTO audit_log (at_ms, actor, method, path, status, before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![e.at_ms, e.actor, e.method, e.path, e.status, json_text(&e.before), json_text(&e.after)],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.with_reader(|c| {
            let mut st = c.prepare(
                "SELECT id, at_ms, actor, method, path, status, before, after FROM audit_log \
                 WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR substr(path, 1, length(?2)) = ?2) \
                 AND (?3 IS NULL OR at_ms >= ?3) AND (?4 IS NULL OR at_ms < ?4) \
                 ORDER BY id DESC LIMIT ?5",
            )?;
            let rows = st.query_map(
                params![q.actor, q.path_prefix, q.from_ms, q.to_ms, q.limit.max(1)],
                |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at_ms: r.get(1)?,
                        actor: r.get(2)?,
                        method: r.get(3)?,
                        path: r.get(4)?,
                        status: r.get(5)?,
                        before: parse_json(r.get(6)?),
                        after: parse_json(r.get(7)?),
                    })
                },
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

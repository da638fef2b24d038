//! # access: who may do what
//!
//! The bureau's users come in seven roles ([`Role`]). What a role may do is one table,
//! [`allows`], from roles to [`Capability`]s: the server maps every endpoint to exactly one
//! capability and asks this table, so the authorisation matrix is data that a test walks
//! completely (each role against each endpoint). What a user may *see* is a second, orthogonal
//! question answered by a [`Scope`]: a district enforcement officer sees only their district, an
//! enterprise user only their own enterprise; everyone else sees the whole city. Handlers filter
//! lists by the scope and refuse single objects outside it.
//!
//! Credentials:
//! - passwords are stored only as Argon2id PHC strings ([`hash_password`], [`verify_password`]);
//!   there is no default password anywhere (the first admin is created on the command line);
//! - sessions (for the browser) and API tokens (for integrations) are random 256-bit secrets
//!   ([`new_secret`]); the store keeps only their SHA-256 digest ([`secret_digest`]), so a copy
//!   of the database does not log anyone in;
//! - [`LoginThrottle`] slows password guessing per user name and per source address: after a
//!   number of failures within a window, further attempts are refused for a lockout that doubles
//!   with each further failure, up to a ceiling. It is a pure state machine over the caller's
//!   clock, so it is tested without sleeping.
//!
//! The crate has no I/O apart from the operating system's random source.

use std::collections::HashMap;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why an access operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    /// A password does not meet the rules.
    #[error("password: {0}")]
    WeakPassword(String),
    /// Hashing failed (the operating system's random source, or a parameter).
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// A user name is not acceptable.
    #[error("user name: {0}")]
    BadUserName(String),
    /// A role's scope is missing or not allowed.
    #[error("{0}")]
    BadScope(String),
}

/// A user's role. Serialised in snake case (`duty_officer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users, sees and does everything.
    Admin,
    /// Monitoring-centre duty officer: watches alarms, opens and dispatches cases.
    DutyOfficer,
    /// District enforcement officer: handles the cases of their district.
    DistrictOfficer,
    /// Analyst or leader: reads everything, changes nothing.
    Analyst,
    /// Registry clerk: keeps the bureau's registries.
    RegistryClerk,
    /// Device operator: monitoring points, devices, the raw packet log.
    DeviceOperator,
    /// An enterprise: its own points, data, alarms, cases and rectification requests.
    Enterprise,
}

impl Role {
    /// Every role, in the order of the table in the docs.
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::DutyOfficer,
        Role::DistrictOfficer,
        Role::Analyst,
        Role::RegistryClerk,
        Role::DeviceOperator,
        Role::Enterprise,
    ];

    /// The role's name as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::DutyOfficer => "duty_officer",
            Role::DistrictOfficer => "district_officer",
            Role::Analyst => "analyst",
            Role::RegistryClerk => "registry_clerk",
            Role::DeviceOperator => "device_operator",
            Role::Enterprise => "enterprise",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?} (one of {})",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something an endpoint does. Every endpoint of the API needs exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Log in, see and change one's own account and tokens.
    OwnAccount,
    /// Read points, series, latest values, assessments (within the scope).
    ReadData,
    /// Create, change or delete monitoring points.
    WritePoints,
    /// Read devices, the raw packet log, store statistics and metrics.
    ReadDevices,
    /// Read the bureau's registries and targets.
    ReadRegistries,
    /// Change registries (single entries and imports).
    WriteRegistries,
    /// Read alarms (within the scope).
    ReadAlarms,
    /// Acknowledge or dismiss alarms (within the scope).
    HandleAlarms,
    /// Read cases and their evidence (within the scope).
    ReadCases,
    /// Open a case.
    OpenCases,
    /// Dispatch a case to a district and an officer.
    DispatchCases,
    /// Enforcement steps: review, inspection, rectification request, verification, closure,
    /// reopening (within the scope).
    HandleCases,
    /// An enterprise's response to a rectification request (its own cases only).
    RespondToCases,
    /// Case figures and the inspection plan (within the scope).
    ReadFigures,
    /// Create, change and disable users; other users' tokens.
    ManageUsers,
    /// Read the audit log.
    ReadAudit,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 16] = [
        Capability::OwnAccount,
        Capability::ReadData,
        Capability::WritePoints,
        Capability::ReadDevices,
        Capability::ReadRegistries,
        Capability::WriteRegistries,
        Capability::ReadAlarms,
        Capability::HandleAlarms,
        Capability::ReadCases,
        Capability::OpenCases,
        Capability::DispatchCases,
        Capability::HandleCases,
        Capability::RespondToCases,
        Capability::ReadFigures,
        Capability::ManageUsers,
        Capability::ReadAudit,
    ];
}

/// Whether `role` has `capability`: the authorisation matrix.
///
/// | capability | admin | duty | district | analyst | clerk | operator | enterprise |
/// |---|---|---|---|---|---|---|---|
/// | own account | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |
/// | read data | ✓ | ✓ | district | ✓ | ✓ | ✓ | own |
/// | write points | ✓ | | | | | ✓ | |
/// | read devices | ✓ | ✓ | | ✓ | | ✓ | |
/// | read registries | ✓ | ✓ | district | ✓ | ✓ | ✓ | |
/// | write registries | ✓ | | | | ✓ | | |
/// | read alarms | ✓ | ✓ | district | ✓ | | ✓ | own |
/// | handle alarms | ✓ | ✓ | district | | | | |
/// | read cases | ✓ | ✓ | district | ✓ | | | own |
/// | open cases | ✓ | ✓ | district | | | | |
/// | dispatch cases | ✓ | ✓ | | | | | |
/// | handle cases | ✓ | ✓ | district | | | | |
/// | respond to cases | | | | | | | own |
/// | figures, plan | ✓ | ✓ | district | ✓ | | | |
/// | manage users | ✓ | | | | | | |
/// | audit log | ✓ | | | | | | |
///
/// "district" and "own" mean the capability holds within the user's [`Scope`]. An admin does
/// not respond for an enterprise: the response is the enterprise's own statement.
pub fn allows(role: Role, capability: Capability) -> bool {
    use Capability as C;
    use Role as R;
    match capability {
        C::OwnAccount | C::ReadData => true,
        C::WritePoints => matches!(role, R::Admin | R::DeviceOperator),
        C::ReadDevices => matches!(
            role,
            R::Admin | R::DutyOfficer | R::Analyst | R::DeviceOperator
        ),
        C::ReadRegistries => role != R::Enterprise,
        C::WriteRegistries => matches!(role, R::Admin | R::RegistryClerk),
        C::ReadAlarms => !matches!(role, R::RegistryClerk),
        C::HandleAlarms | C::OpenCases | C::HandleCases => {
            matches!(role, R::Admin | R::DutyOfficer | R::DistrictOfficer)
        }
        C::ReadCases => matches!(
            role,
            R::Admin | R::DutyOfficer | R::DistrictOfficer | R::Analyst | R::Enterprise
        ),
        C::DispatchCases => matches!(role, R::Admin | R::DutyOfficer),
        C::RespondToCases => role == R::Enterprise,
        C::ReadFigures => matches!(
            role,
            R::Admin | R::DutyOfficer | R::DistrictOfficer | R::Analyst
        ),
        C::ManageUsers | C::ReadAudit => role == R::Admin,
    }
}

/// What part of the city a user sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Scope {
    /// The whole city.
    City,
    /// One district (its registry code, e.g. `lixia`).
    District(String),
    /// One enterprise (its unified social credit code).
    Enterprise(String),
}

impl Scope {
    /// Whether something in `district`, belonging to `enterprise`, is visible. Something with no
    /// district (or no enterprise) is visible only to city-wide users.
    pub fn sees(&self, district: Option<&str>, enterprise: Option<&str>) -> bool {
        match self {
            Scope::City => true,
            Scope::District(d) => !d.is_empty() && district == Some(d.as_str()),
            Scope::Enterprise(e) => !e.is_empty() && enterprise == Some(e.as_str()),
        }
    }

    /// Whether this is the whole city.
    pub fn is_city(&self) -> bool {
        *self == Scope::City
    }
}

/// A logged-in user, as the server knows them for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// User name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// District, for district officers.
    pub district: Option<String>,
    /// Enterprise credit code, for enterprise users.
    pub enterprise: Option<String>,
}

impl Principal {
    /// What the user sees.
    pub fn scope(&self) -> Scope {
        match (self.role, &self.district, &self.enterprise) {
            (Role::DistrictOfficer, Some(d), _) => Scope::District(d.clone()),
            (Role::Enterprise, _, Some(e)) => Scope::Enterprise(e.clone()),
            // A scoped role without its scope sees nothing: `check_scope_fields` refuses to
            // create such a user, so this is a corrupt record; an impossible district is safe.
            (Role::DistrictOfficer, None, _) => Scope::District(String::new()),
            (Role::Enterprise, _, None) => Scope::Enterprise(String::new()),
            _ => Scope::City,
        }
    }

    /// Whether the user has `capability`.
    pub fn can(&self, capability: Capability) -> bool {
        allows(self.role, capability)
    }
}

/// Checks that a role carries exactly the scope fields it needs: a district officer a district,
/// an enterprise user an enterprise, others neither.
pub fn check_scope_fields(
    role: Role,
    district: Option<&str>,
    enterprise: Option<&str>,
) -> Result<(), AccessError> {
    let has = |v: Option<&str>| v.is_some_and(|s| !s.trim().is_empty());
    match role {
        Role::DistrictOfficer if !has(district) => Err(AccessError::BadScope(
            "a district officer needs a district".into(),
        )),
        Role::Enterprise if !has(enterprise) => Err(AccessError::BadScope(
            "an enterprise user needs an enterprise (credit code)".into(),
        )),
        Role::DistrictOfficer if enterprise.is_some() => Err(AccessError::BadScope(
            "a district officer has no enterprise".into(),
        )),
        Role::Enterprise if district.is_some() => Err(AccessError::BadScope(
            "an enterprise user has no district (its enterprise decides what it sees)".into(),
        )),
        Role::DistrictOfficer | Role::Enterprise => Ok(()),
        _ if district.is_some() || enterprise.is_some() => Err(AccessError::BadScope(format!(
            "a {role} sees the whole city: no district or enterprise"
        ))),
        _ => Ok(()),
    }
}

/// Checks a user name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn check_username(name: &str) -> Result<(), AccessError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AccessError::BadUserName(format!(
            "{name:?}: 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Checks a new password: at least [`MIN_PASSWORD_CHARS`] characters, not the user name, not
/// one repeated character, at most 1024 bytes.
pub fn check_password(username: &str, password: &str) -> Result<(), AccessError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AccessError::WeakPassword(format!(
            "at least {MIN_PASSWORD_CHARS} characters (got {chars})"
        )));
    }
    if password.len() > 1024 {
        return Err(AccessError::WeakPassword("at most 1024 bytes".into()));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(AccessError::WeakPassword(
            "must not be the user name".into(),
        ));
    }
    let mut it = password.chars();
    if let Some(first) = it.next()
        && it.all(|c| c == first)
    {
        return Err(AccessError::WeakPassword(
            "must not be one repeated character".into(),
        ));
    }
    Ok(())
}

/// Hashes a password with Argon2id (default parameters, random salt) into a PHC string. Slow on
/// purpose (tens of milliseconds): call it off the async runtime.
pub fn hash_password(password: &str) -> Result<String, AccessError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccessError::Hashing(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`. A malformed `phc` matches nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A PHC string that matches no known password (the hash of a random secret, made once), verified
/// when a login names an unknown user so that the answer takes as long as for a known one (no
/// user-name probing by timing).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        new_secret("")
            .and_then(|s| hash_password(&s))
            .unwrap_or_default()
    })
}

/// A new random secret for a session or an API token: 32 bytes from the operating system, in
/// lowercase hex behind a prefix that says what it is (`hhs_` session, `hht_` token).
pub fn new_secret(prefix: &str) -> Result<String, AccessError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AccessError::Hashing(e.to_string()))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// The SHA-256 of a secret in lowercase hex: what the store keeps instead of the secret.
pub fn secret_digest(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// SHA-256 of bytes in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Settings of [`LoginThrottle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures allowed within `window_ms` before a lockout.
    pub max_failures: u32,
    /// The window over which failures are counted.
    pub window_ms: i64,
    /// The first lockout; each further failure while locked out doubles it.
    pub lockout_ms: i64,
    /// The longest lockout.
    pub max_lockout_ms: i64,
}

impl Default for ThrottleConfig {
    /// 5 failures in 15 minutes lock the key for 1 minute, doubling up to 1 hour. These numbers
    /// are a proposal (common practice, e.g. OWASP's guidance), not from a standard.
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_ms: 15 * 60_000,
            lockout_ms: 60_000,
            max_lockout_ms: 3_600_000,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Attempts {
    failures: Vec<i64>,
    locked_until_ms: i64,
    lockout_ms: i64,
}

/// Counts failed logins per key (a user name, a source address) and says when to refuse.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    config: ThrottleConfig,
    keys: HashMap<String, Attempts>,
}

impl LoginThrottle {
    /// A throttle with `config`.
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            keys: HashMap::new(),
        }
    }

    /// `Err(ms)`: the key is locked out for `ms` more milliseconds.
    pub fn check(&self, key: &str, now_ms: i64) -> Result<(), i64> {
        match self.keys.get(key) {
            Some(a) if a.locked_until_ms > now_ms => Err(a.locked_until_ms - now_ms),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt at `now_ms`.
    pub fn failure(&mut self, key: &str, now_ms: i64) {
        let c = self.config;
        let a = self.keys.entry(key.to_owned()).or_default();
        a.failures.retain(|t| now_ms - t < c.window_ms);
        a.failures.push(now_ms);
        if a.failures.len() as u32 >= c.max_failures {
            a.lockout_ms = if a.lockout_ms == 0 {
                c.lockout_ms
            } else {
                (a.lockout_ms * 2).min(c.max_lockout_ms)
            };
            a.locked_until_ms = now_ms + a.lockout_ms;
        }
        // Forget keys that have been quiet for a long time, so the map stays small.
        if self.keys.len() > 100_000 {
            let horizon = c.window_ms.max(c.max_lockout_ms);
            self.keys.retain(|_, a| {
                a.locked_until_ms > now_ms
                    || a.failures.last().is_some_and(|t| now_ms - t < horizon)
            });
        }
    }

    /// Records a successful login: the key's failures are forgotten.
    pub fn success(&mut self, key: &str) {
        self.keys.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_gives_each_role_what_the_table_says() {
        use Capability as C;
        let count = |r: Role| Capability::ALL.iter().filter(|&&c| allows(r, c)).count();
        assert_eq!(
            count(Role::Admin),
            15,
            "everything but responding for an enterprise"
        );
        assert!(!allows(Role::Admin, C::RespondToCases));
        for c in [
            C::OwnAccount,
            C::ReadData,
            C::ReadAlarms,
            C::ReadCases,
            C::RespondToCases,
        ] {
            assert!(allows(Role::Enterprise, c), "{c:?}");
        }
        assert_eq!(count(Role::Enterprise), 5);
        assert!(!allows(Role::Analyst, C::HandleAlarms));
        assert!(allows(Role::Analyst, C::ReadFigures));
        assert!(allows(Role::RegistryClerk, C::WriteRegistries));
        assert!(!allows(Role::RegistryClerk, C::ReadAlarms));
        assert!(allows(Role::DeviceOperator, C::WritePoints));
        assert!(!allows(Role::DistrictOfficer, C::DispatchCases));
        assert!(allows(Role::DutyOfficer, C::DispatchCases));
        for r in Role::ALL {
            assert_eq!(allows(r, C::ManageUsers), r == Role::Admin);
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
    }

    #[test]
    fn scopes_follow_the_role() {
        let p = |role, d: Option<&str>, e: Option<&str>| Principal {
            username: "u".into(),
            role,
            district: d.map(str::to_owned),
            enterprise: e.map(str::to_owned),
        };
        let officer = p(Role::DistrictOfficer, Some("lixia"), None).scope();
        assert!(officer.sees(Some("lixia"), Some("X")));
        assert!(!officer.sees(Some("shizhong"), None));
        assert!(!officer.sees(None, None));
        let ent = p(Role::Enterprise, None, Some("913701")).scope();
        assert!(ent.sees(Some("lixia"), Some("913701")));
        assert!(!ent.sees(Some("lixia"), Some("913702")));
        assert!(!ent.sees(None, None));
        assert!(p(Role::Analyst, None, None).scope().sees(None, None));
        // A corrupt scoped record sees nothing rather than everything.
        assert!(!p(Role::Enterprise, None, None).scope().sees(None, Some("")));
        assert!(check_scope_fields(Role::DistrictOfficer, None, None).is_err());
        assert!(check_scope_fields(Role::Enterprise, None, Some("913701")).is_ok());
        assert!(check_scope_fields(Role::Admin, Some("lixia"), None).is_err());
    }

    #[test]
    fn passwords_hash_and_verify() {
        assert!(check_password("ann", "short").is_err());
        assert!(check_password("annannannann", "AnnAnnAnnAnn").is_err());
        assert!(check_password("ann", "aaaaaaaaaaaa").is_err());
        assert!(check_password("ann", "correct horse").is_ok());
        let phc = hash_password("correct horse").expect("hashes");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horsf", &phc));
        assert!(!verify_password("x", "not a phc string"));
        assert!(decoy_hash().starts_with("$argon2id$"));
        assert!(!verify_password("", decoy_hash()));
        assert_ne!(
            hash_password("correct horse").expect("hashes"),
            phc,
            "salted"
        );
    }

    #[test]
    fn secrets_are_random_and_stored_as_digests() {
        let a = new_secret("hht_").expect("random");
        let b = new_secret("hht_").expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(secret_digest(&a).len(), 64);
    }

    #[test]
    fn the_throttle_locks_out_and_backs_off() {
        let mut t = LoginThrottle::new(ThrottleConfig::default());
        let k = "user:ann";
        for i in 0..4 {
            t.failure(k, i * 1000);
            assert_eq!(t.check(k, i * 1000), Ok(()));
        }
        t.failure(k, 4000);
        assert_eq!(t.check(k, 4000), Err(60_000));
        assert_eq!(t.check(k, 64_000), Ok(()));
        // One more failure within the window: twice as long.
        t.failure(k, 65_000);
        assert_eq!(t.check(k, 65_000), Err(120_000));
        t.success(k);
        assert_eq!(t.check(k, 65_001), Ok(()));
        // Failures spread beyond the window never lock.
        let mut t = LoginThrottle::new(ThrottleConfig::default());
        for i in 0..20 {
            t.failure(k, i * 16 * 60_000);
            assert_eq!(t.check(k, i * 16 * 60_000), Ok(()));
        }
    }
}

//! `huanghe user`: accounts on the command line, against the data directory's store.
//!
//! This is how the first admin comes to exist: there is no default account or password
//! anywhere. The password is read from standard input (one line), so it appears neither in the
//! process list nor in the shell history: `huanghe user add admin --role admin < secret.txt`, or
//! type it when asked. Works while the server runs (the store is shared safely).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use server::auth::{NewUser, new_user};
use store::{SqliteStore, UserStore};

/// Where the store is.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// TOML config file (its `data_dir` is used).
    #[arg(long, env = "HUANGHE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (the store is `huanghe.db` inside it).
    #[arg(long, env = "HUANGHE_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl StoreArgs {
    fn open(&self) -> Result<SqliteStore> {
        let dir = match (&self.data_dir, &self.config) {
            (Some(d), _) => d.clone(),
            (None, Some(c)) => server::Config::from_file(c)?.data_dir,
            (None, None) => server::Config::default().data_dir,
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        SqliteStore::open(&dir.join("huanghe.db"))
            .with_context(|| format!("opening the store in {}", dir.display()))
    }
}

/// `huanghe user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        /// User name.
        name: String,
        /// Role: admin, duty_officer, district_officer, analyst, registry_clerk,
        /// device_operator, enterprise.
        #[arg(long)]
        role: String,
        /// District (district officers), e.g. `lixia`.
        #[arg(long)]
        district: Option<String>,
        /// Enterprise credit code (enterprise users).
        #[arg(long)]
        enterprise: Option<String>,
        /// Display name.
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Create an API token for a user and print it (shown this once).
    Token {
        /// User name.
        name: String,
        /// What the token is for.
        #[arg(long, default_value = "cli")]
        label: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List users (JSON lines).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn read_password() -> Result<String> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!("password (input is shown; pipe it in to avoid that): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let pw = line.trim_end_matches(['\r', '\n']).to_owned();
    if pw.is_empty() {
        bail!("no password on standard input");
    }
    Ok(pw)
}

/// Runs a `user` subcommand.
pub fn run(cmd: UserCommand) -> Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            name,
            role,
            district,
            enterprise,
            display_name,
            store,
        } => {
            let role = role.parse().map_err(anyhow::Error::msg)?;
            let password = read_password()?;
            let user = new_user(
                &NewUser {
                    username: name,
                    display_name,
                    role,
                    district,
                    enterprise,
                    password,
                },
                now_ms(),
            )?;
            store.open()?.create_user(&user)?;
            println!(
                "{}",
                serde_json::json!({"created": user.username, "role": user.role})
            );
        }
        UserCommand::Token { name, label, store } => {
            let s = store.open()?;
            if s.user(&name)?.is_none() {
                bail!("no user {name:?}");
            }
            let secret = access::new_secret("hht_")?;
            let id = s.create_token(&access::secret_digest(&secret), &name, &label, now_ms())?;
            println!(
                "{}",
                serde_json::json!({"id": id, "user": name, "token": secret})
            );
        }
        UserCommand::List { store } => {
            for u in store.open()?.users()? {
                println!(
                    "{}",
                    serde_json::json!({"username": u.username, "role": u.role, "district": u.district, "enterprise": u.enterprise, "disabled": u.disabled})
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A random password for a generated account: 16 hex digits (64 bits) from the OS.
fn random_password() -> Result<String> {
    Ok(access::new_secret("")?.chars().take(16).collect())
}

/// Creates (or, when it exists, resets the password of) a user with a random password; returns
/// the password.
pub(crate) fn provision(
    store: &dyn UserStore,
    name: &str,
    role: access::Role,
    district: Option<&str>,
    enterprise: Option<&str>,
) -> Result<String> {
    let password = random_password()?;
    let form = NewUser {
        username: name.to_owned(),
        display_name: None,
        role,
        district: district.map(str::to_owned),
        enterprise: enterprise.map(str::to_owned),
        password: password.clone(),
    };
    let fresh = new_user(&form, now_ms())?;
    match store.user(name)? {
        None => store.create_user(&fresh)?,
        Some(mut u) => {
            u.password_hash = fresh.password_hash;
            u.role = fresh.role;
            u.district = fresh.district;
            u.enterprise = fresh.enterprise;
            u.disabled = false;
            u.updated_ms = fresh.updated_ms;
            store.update_user(&u)?;
            store.delete_sessions_of(name)?;
        }
    }
    Ok(password)
}

/// An admin API token for tools that drive a server they started (the bench): the `bench`
/// admin is created with a random password nobody sees.
pub(crate) fn tool_token(data_dir: &std::path::Path, label: &str) -> Result<String> {
    std::fs::create_dir_all(data_dir)?;
    let store = SqliteStore::open(&data_dir.join("huanghe.db"))?;
    if store.user("bench")?.is_none() {
        provision(&store, "bench", access::Role::Admin, None, None)?;
    }
    let secret = access::new_secret("hht_")?;
    store.create_token(&access::secret_digest(&secret), "bench", label, now_ms())?;
    Ok(secret)
}

//! End-to-end tests of the `huanghe` binary: the one integration-test binary of the workspace
//! (each extra one re-links everything on a 2-core machine), so features add modules here.
//!
//! The server tests start the real binary (`huanghe serve`) in its own process on a fresh data
//! directory with ports 0, read its ready line for the addresses, and talk to it over real TCP:
//! HJ 212 through the simulator's loggers, HTTP through the server crate's small client.

mod alarms;
mod assess;
mod cases;
mod cli;
mod crash;
mod fuzz_api;
mod registries;
mod serve;
mod simulate;
mod trucks;
mod ui;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `huanghe serve` process.
pub struct TestServer {
    child: Option<Child>,
    /// The HJ 212 listener.
    pub hj212: SocketAddr,
    /// The truck listener.
    pub hj1239: SocketAddr,
    /// The HTTP API.
    pub http: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// An admin's API token (the `admin` user is created before the server starts), sent with
    /// every request unless the request carries its own `Authorization`.
    pub token: String,
}

/// The password of every user the tests create.
pub const TEST_PASSWORD: &str = "e2e correct horse";

/// Runs `huanghe user …` on a data directory with the password on stdin; returns stdout.
pub fn user_cli(data_dir: &Path, args: &[&str]) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_huanghe"))
        .arg("user")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("huanghe user runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{TEST_PASSWORD}\n").as_bytes())
        .expect("password written");
    let out = child.wait_with_output().expect("huanghe user ends");
    assert!(
        out.status.success(),
        "huanghe user {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates a user (if new) and an API token for them; returns the token.
pub fn user_token(data_dir: &Path, name: &str, role_args: &[&str]) -> String {
    let exists = user_cli(data_dir, &["list"])
        .lines()
        .any(|l| l.contains(&format!("\"username\":\"{name}\"")));
    if !exists {
        let mut args = vec!["add", name];
        args.extend_from_slice(role_args);
        user_cli(data_dir, &args);
    }
    let out = user_cli(data_dir, &["token", name, "--label", "e2e"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("token JSON");
    v["token"].as_str().expect("token").to_owned()
}

/// A temporary directory removed on drop.
pub struct TempDir(
    pub PathBuf,
    #[expect(dead_code, reason = "held for its Drop, which removes the directory")]
    tempfile::TempDir,
);

impl TempDir {
    /// A fresh directory under the system's temporary directory, removed when dropped.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("huanghe-e2e-{name}-"))
            .tempdir()
            .expect("temp dir");
        Self(dir.path().to_owned(), dir)
    }
}

/// A points file with one point per (id, mn, password).
pub fn points_toml(points: &[(String, String, String)]) -> String {
    let mut out = String::new();
    for (id, mn, pw) in points {
        out.push_str(&format!(
            "[[points]]\nid = \"{id}\"\nname = \"point {id}\"\nmn = \"{mn}\"\npassword = \"{pw}\"\nst = \"31\"\nkind = \"gas_outlet\"\nmin_interval_min = 1\n\n"
        ));
    }
    out
}

impl TestServer {
    /// Starts a server on `dir` (data in `dir/data`, points from `dir/points.toml` when it
    /// exists), with extra config lines appended to the `[hj212]` table.
    pub fn start(dir: &Path, hj212_config: &str) -> Self {
        Self::start_with(dir, "", hj212_config)
    }

    /// As [`TestServer::start`], with top-level config lines too.
    pub fn start_with(dir: &Path, top_config: &str, hj212_config: &str) -> Self {
        Self::start_full(dir, top_config, hj212_config, "")
    }

    /// As [`TestServer::start_with`], with lines for the `[http]` table too.
    pub fn start_full(dir: &Path, top_config: &str, hj212_config: &str, http_config: &str) -> Self {
        let points = dir.join("points.toml");
        let mut config = format!("data_dir = {:?}\n", dir.join("data"));
        if points.exists() {
            config.push_str(&format!("points_file = {points:?}\n"));
        }
        config.push_str(top_config);
        config.push('\n');
        config.push_str(&format!(
            "[hj212]\nlisten = \"127.0.0.1:0\"\n{hj212_config}\n[hj1239]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n{http_config}\n"
        ));
        std::fs::write(dir.join("config.toml"), config).expect("config written");
        let data_dir = dir.join("data");
        let token = user_token(&data_dir, "admin", &["--role", "admin"]);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_huanghe"))
            .args(["serve", "--log", "warn", "--config"])
            .arg(dir.join("config.toml"))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            panic!("no ready line ({e}): {line:?}\nserver log:\n{log}")
        });
        let addr = |k: &str| -> SocketAddr {
            ready[k]
                .as_str()
                .and_then(|a| a.parse().ok())
                .expect("address")
        };
        Self {
            hj212: addr("hj212"),
            hj1239: addr("hj1239"),
            http: addr("http"),
            child: Some(child),
            data_dir,
            token,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and the server must exit cleanly within 30 s.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = c.try_wait().expect("wait") {
                assert!(status.success(), "server exit status {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An HTTP request to the API, as the admin.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> server::client::Response {
        self.request_as(&self.token, method, path, body).await
    }

    /// An HTTP request with another user's token (empty: no credentials).
    pub async fn request_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> server::client::Response {
        let auth = format!("Bearer {token}");
        let headers: Vec<(&str, &str)> = if token.is_empty() {
            vec![]
        } else {
            vec![("Authorization", auth.as_str())]
        };
        server::client::request_with(
            self.http,
            method,
            path,
            &headers,
            body.map(|b| ("application/json", b.as_bytes())),
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A request with a session cookie and no other credentials (as a browser sends it).
    pub async fn request_with_cookie(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
    ) -> server::client::Response {
        server::client::request_with(
            self.http,
            method,
            path,
            &[("Cookie", cookie)],
            None,
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A request with headers and a body of any type (as the admin unless the headers carry an
    /// `Authorization`).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> server::client::Response {
        let auth = format!("Bearer {}", self.token);
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        {
            all.push(("Authorization", auth.as_str()));
        }
        server::client::request_with(self.http, method, path, &all, body, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// GET, expecting 200 and JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self.request("GET", path, None).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
            .unwrap_or_else(|e| panic!("GET {path}: {e}: {}", r.text()))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// RFC 3339 of a Unix second, URL-safe (`+` escaped).
pub fn iso_query(unix_s: i64) -> String {
    bjtime::rfc3339(unix_s).replace('+', "%2B")
}

/// Beijing midnight `days` days before today, Unix seconds.
pub fn midnight_days_ago(days: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    bjtime::day_start(now) - days * bjtime::DAY_S
}

/// Polls `probe` every 50 ms until it gives a value; fails naming `what` after `within`. For
/// waiting on an effect that has no event to subscribe to (data stored, a fleet caught up).
pub async fn until<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

//! The web UI in a real browser: Debian's Chromium driven by playwright-core
//! (`crates/server/web/tests/ui.mjs`). This side sets up the server, users and data; the script
//! logs in, opens the map, zooms a chart, acknowledges an alarm, moves a case one step, switches
//! language, and checks that an enterprise cannot see another's point. Screenshots go to
//! `$CARGO_TARGET_TMPDIR/ui-screenshots`.

use std::path::PathBuf;
use std::process::Command;

use simulator::Link;

use crate::alarms::send_hour;
use crate::cases::{E1, POINTS, poll_alarm, register};
use crate::{TEST_PASSWORD, TempDir, TestServer, midnight_days_ago, user_token};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/web/tests/ui.mjs")
}

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")
}

/// Runs the browser script with `vars`; fails the test with its output when it fails.
fn run_browser(vars: &[(&str, String)]) -> String {
    let mut cmd = Command::new("node");
    cmd.arg(script());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.env("UI_PASSWORD", TEST_PASSWORD)
        .env("UI_SHOTS", shots());
    let out = cmd
        .output()
        .expect("node runs (Node.js is needed for the browser tests)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian chromium (/usr/bin/chromium) and playwright-core (npm ci in crates/server/web); .ci/run provides both"]
async fn the_web_ui_in_a_real_browser() {
    let dir = TempDir::new("ui");
    std::fs::write(dir.0.join("points.toml"), POINTS).expect("points");
    let server = TestServer::start(&dir.0, "");
    register(&server).await;
    for (name, args) in [
        ("duty", vec!["--role", "duty_officer"]),
        (
            "li",
            vec!["--role", "district_officer", "--district", "lixia"],
        ),
        ("ent1", vec!["--role", "enterprise", "--enterprise", E1]),
    ] {
        user_token(&server.data_dir, name, &args);
    }
    let h = midnight_days_ago(1) + 8 * 3600;
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let mut qn = 0;
    send_hour(&mut link, h, "30", &mut qn).await;
    poll_alarm(&server).await;
    let r = server
        .request(
            "POST",
            "/api/v1/cases",
            Some(r#"{"title":"odour complaint near the stack","point_id":"stack"}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json().expect("json")["id"].to_string();
    let out = tokio::task::spawn_blocking(move || {
        run_browser(&[
            ("UI_BASE", format!("http://{}", server.http)),
            ("UI_MODE", "flow".into()),
            ("UI_POINT", "stack".into()),
            ("UI_OTHER_POINT", "other".into()),
            ("UI_MN", "GAS0001".into()),
            ("UI_CASE", case),
            ("UI_ENTERPRISE_USER", "ent1".into()),
        ])
    })
    .await
    .expect("browser task");
    println!("{out}screenshots in {}", shots().display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian chromium (/usr/bin/chromium) and playwright-core (npm ci in crates/server/web); .ci/run provides both"]
async fn every_page_for_every_role_in_both_languages_with_the_demo_city() {
    let dir = TempDir::new("ui-render");
    let server = TestServer::start_with(&dir.0, "demo_city = true", "");
    let points = server.get_json("/api/v1/points").await;
    let enterprise = points
        .as_array()
        .and_then(|ps| ps.iter().find_map(|p| p["enterprise"].as_str()))
        .expect("the demo city has enterprises")
        .to_owned();
    let mut users = vec!["admin".to_owned()];
    for (name, args) in [
        ("duty", vec!["--role", "duty_officer"]),
        (
            "li",
            vec!["--role", "district_officer", "--district", "lixia"],
        ),
        ("analyst", vec!["--role", "analyst"]),
        ("clerk", vec!["--role", "registry_clerk"]),
        ("operator", vec!["--role", "device_operator"]),
        (
            "ent",
            vec!["--role", "enterprise", "--enterprise", &enterprise],
        ),
    ] {
        user_token(&server.data_dir, name, &args);
        users.push(name.to_owned());
    }
    let r = server
        .request(
            "POST",
            "/api/v1/cases",
            Some(r#"{"title":"烟囱附近异味投诉","point_id":"E000-1"}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let base = format!("http://{}", server.http);
    let out = tokio::task::spawn_blocking(move || {
        let render = run_browser(&[
            ("UI_BASE", base.clone()),
            ("UI_MODE", "render".into()),
            ("UI_USER", "admin".into()),
        ]);
        let walk = run_browser(&[
            ("UI_BASE", base),
            ("UI_MODE", "walk".into()),
            ("UI_USERS", users.join(",")),
        ]);
        (render, walk)
    })
    .await
    .expect("browser task");
    let line = out.0.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line).expect("figures");
    assert!(
        v["render"][0]["markers"].as_u64().is_some_and(|m| m >= 627),
        "{v}"
    );
    println!("overview render with the demo city: {line}\n{}", out.1);
}

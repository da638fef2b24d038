//! Registries through the served API, on the demo city: counts, queries, history as of a date,
//! lifecycle, spreadsheet import (with errors: nothing imported) and export, targets.

use std::time::Duration;

use serde_json::Value;

use crate::{TempDir, TestServer};

fn count_of(list: &Value, name: &str) -> u64 {
    list.as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == name))
        .and_then(|r| r["count"].as_u64())
        .unwrap_or_else(|| panic!("{name} in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_registries_through_the_api() {
    let dir = TempDir::new("registries");
    let server = TestServer::start_with(&dir.0, "demo_city = true", "");

    let list = server.get_json("/api/v1/registries").await;
    for (name, n) in [
        ("enterprises", 300),
        ("monitoring_points", 600 + 15 + 12),
        ("air_stations", 15),
        ("water_sections", 12),
        ("noise_points", 40),
        ("radioactive_sources", 30),
        ("sewage_outlets", 1200),
        ("vehicles", 20_000),
        ("villages", 201),
        ("carbon_market_enterprises", 11),
        ("protected_areas", 8),
    ] {
        assert_eq!(count_of(&list, name), n, "{name}");
    }
    // The points registry is the gateway's points: outlets, air stations, water sections.
    let points = server.get_json("/api/v1/points").await;
    assert_eq!(points.as_array().map(Vec::len), Some(627));

    // Filters, paging, search.
    let page = server
        .get_json("/api/v1/registries/water_sections/entries?key_section=true")
        .await;
    assert_eq!(page["total"], 3);
    let names: Vec<&str> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["data"]["name"].as_str().expect("name"))
        .collect();
    assert!(names.contains(&"小清河睦里庄"), "{names:?}");
    let page = server
        .get_json("/api/v1/registries/vehicles/entries?scrap_status=scrapped&per_page=10&page=2")
        .await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(10));
    assert!(page["total"].as_u64().is_some_and(|t| t > 5_000));
    let bad = server
        .request(
            "GET",
            "/api/v1/registries/vehicles/entries?colour=red",
            None,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("colour"));

    // Geo: inside a protected area, near a point.
    let inside = server
        .get_json(
            "/api/v1/registries/enterprises/entries?within=protected_areas/PA00&per_page=1000",
        )
        .await;
    let near = server
        .get_json("/api/v1/registries/air_stations/entries?near=117.08,36.67&radius_m=50000")
        .await;
    // Every answer satisfies its predicate: PA00 is the square 117.10±0.12, 36.45±0.12.
    for e in inside["entries"].as_array().expect("entries") {
        let loc = &e["data"]["location"];
        let (lon, lat) = (loc[0].as_f64().expect("lon"), loc[1].as_f64().expect("lat"));
        assert!(
            (116.98..=117.22).contains(&lon) && (36.33..=36.57).contains(&lat),
            "{loc}"
        );
    }
    let all_stations = server
        .get_json("/api/v1/registries/air_stations/entries?per_page=100")
        .await;
    let within_50km = all_stations["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| {
            let loc = &e["data"]["location"];
            let p = [
                loc[0].as_f64().unwrap_or(0.0),
                loc[1].as_f64().unwrap_or(0.0),
            ];
            registry::query::distance_m([117.08, 36.67], p) <= 50_000.0
        })
        .count() as u64;
    assert!(within_50km >= 1);
    assert_eq!(
        near["total"].as_u64(),
        Some(within_50km),
        "near returns exactly the stations within 50 km"
    );

    // History as of a date: on 1 January every outlet was just identified.
    let year = hj212::LocalTime::from_unix_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64,
    )
    .year;
    let jan1 = format!("{year}-01-01T00:00:00%2B08:00");
    let then = server
        .get_json(&format!(
            "/api/v1/registries/sewage_outlets/entries?status=identified&as_of={jan1}&per_page=1"
        ))
        .await;
    assert_eq!(then["total"], 1200);
    let now = server
        .get_json("/api/v1/registries/sewage_outlets/entries?status=identified&per_page=1")
        .await;
    assert!(now["total"].as_u64().is_some_and(|n| n < 1200));

    // Lifecycle: a remediated outlet cannot go back to identified; the error names the field.
    let done = server
        .get_json("/api/v1/registries/sewage_outlets/entries?status=remediated&per_page=1")
        .await;
    let entry = &done["entries"][0];
    let id = entry["id"].as_str().expect("id");
    let mut data = entry["data"].clone();
    data["status"] = "identified".into();
    let r = server
        .request(
            "PUT",
            &format!("/api/v1/registries/sewage_outlets/entries/{id}"),
            Some(&data.to_string()),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json().expect("json")["fields"][0]["field"], "status");
    data["status"] = "verified".into();
    let clerk = crate::user_token(
        &server.data_dir,
        "clerk-wang",
        &["--role", "registry_clerk"],
    );
    let r = server
        .send(
            "PUT",
            &format!("/api/v1/registries/sewage_outlets/entries/{id}"),
            &[("Authorization", &format!("Bearer {clerk}"))],
            Some(("application/json", data.to_string().as_bytes())),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let history = server
        .get_json(&format!(
            "/api/v1/registries/sewage_outlets/entries/{id}/history"
        ))
        .await;
    let last = history.as_array().and_then(|h| h.last()).expect("a change");
    assert_eq!(last["actor"], "clerk-wang");
    assert_eq!(last["before"]["status"], "remediated");
    assert_eq!(last["after"]["status"], "verified");

    // Import: a file with errors imports nothing and reports every bad cell.
    let bad_csv = "村庄编码,村庄名称,区县,乡镇,人口\n\
                   X001,新村,历下区,甲镇,120\n\
                   X002,旧村,火星区,乙镇,很多\n";
    let r = server
        .send(
            "POST",
            "/api/v1/registries/villages/import?format=csv",
            &[],
            Some(("text/csv", bad_csv.as_bytes())),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let errors = r.json().expect("json")["errors"].clone();
    let cells: Vec<(u64, &str)> = errors
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().expect("row"),
                e["column"].as_str().expect("column"),
            )
        })
        .collect();
    assert_eq!(cells, [(3, "区县"), (3, "人口")]);
    let list = server.get_json("/api/v1/registries").await;
    assert_eq!(count_of(&list, "villages"), 201, "nothing imported");
    let good_csv = bad_csv.replace("火星区", "历城区").replace("很多", "80");
    let r = server
        .send(
            "POST",
            "/api/v1/registries/villages/import",
            &[],
            Some(("text/csv", good_csv.as_bytes())),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().expect("json")["created"], 2);

    // Export to XLSX and import it back: nothing changes.
    let xlsx = server
        .request(
            "GET",
            "/api/v1/registries/villages/export?format=xlsx",
            None,
        )
        .await;
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.body.starts_with(b"PK"));
    let r = server
        .send(
            "POST",
            "/api/v1/registries/villages/import",
            &[],
            Some(("application/octet-stream", &xlsx.body)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json().expect("json");
    assert_eq!(
        (report["rows"].as_u64(), report["unchanged"].as_u64()),
        (Some(203), Some(203))
    );

    // Every registry of the demo city survives its own round trip in each format and
    // language: nothing created, nothing updated, no history written.
    let names: Vec<String> = list
        .as_array()
        .expect("registries")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_owned())
        .collect();
    // The sum of the versions of every entry: any write, even of identical data, raises it.
    let versions = async |name: &str| -> i64 {
        let mut sum = 0;
        for page in 0.. {
            let e = server
                .get_json(&format!(
                    "/api/v1/registries/{name}/entries?per_page=10000&page={page}"
                ))
                .await;
            let entries = e["entries"].as_array().expect("entries");
            sum += entries
                .iter()
                .filter_map(|x| x["version"].as_i64())
                .sum::<i64>();
            if entries.len() < 10_000 {
                break;
            }
        }
        sum
    };
    for name in &names {
        let before = versions(name).await;
        for (format, lang) in [("csv", "zh"), ("csv", "en"), ("xlsx", "zh"), ("xlsx", "en")] {
            let file = server
                .request(
                    "GET",
                    &format!("/api/v1/registries/{name}/export?format={format}&lang={lang}"),
                    None,
                )
                .await;
            assert_eq!(file.status, 200, "{name} {format} {lang}");
            let r = server
                .send(
                    "POST",
                    &format!("/api/v1/registries/{name}/import?format={format}"),
                    &[],
                    Some(("application/octet-stream", &file.body)),
                )
                .await;
            assert_eq!(r.status, 200, "{name} {format} {lang}: {}", r.text());
            let report = r.json().expect("json");
            assert_eq!(
                (report["created"].as_u64(), report["updated"].as_u64()),
                (Some(0), Some(0)),
                "{name} {format} {lang}: {report}"
            );
        }
        assert_eq!(
            versions(name).await,
            before,
            "{name}: an import wrote history"
        );
    }

    // Targets, computed from the data, with progress and a forecast.
    let targets = server.get_json("/api/v1/targets").await;
    let t = |id: &str| -> Value {
        targets
            .as_array()
            .and_then(|a| a.iter().find(|t| t["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("{id}"))
    };
    let outlets = t("sewage_outlets_remediated");
    assert_eq!(outlets["population"], 1200);
    assert!(
        outlets["value"]
            .as_f64()
            .is_some_and(|v| v > 0.0 && v < 1.0)
    );
    assert!(outlets["forecast"].as_f64().is_some());
    assert!(outlets["series"].as_array().is_some_and(|s| !s.is_empty()));
    let villages = t("villages_improved");
    assert!(villages["done"].as_u64().is_some_and(|d| d > 0));
    // Measured on closed cases: none yet (the cases tests close some).
    let cases = t("off_site_enforcement");
    assert_eq!(cases["population"], 0);
}

/// A point is one record: its entry in the points registry. Created or edited through
/// `/api/v1/points` or through the registry API, it is seen by the other, by the HJ 212 front
/// door at once, and by the access scopes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_is_one_record_seen_by_both_apis_the_gateway_and_the_scopes() {
    use simulator::{Link, Logger};
    let dir = TempDir::new("one-point");
    let server = TestServer::start(&dir.0, "");
    let data = dir.0.join("data");
    let lixia = crate::user_token(
        &data,
        "li",
        &["--role", "district_officer", "--district", "lixia"],
    );
    let other = crate::user_token(
        &data,
        "shi",
        &["--role", "district_officer", "--district", "shizhong"],
    );
    let owner = crate::user_token(
        &data,
        "ent",
        &["--role", "enterprise", "--enterprise", "91370100MA3C000001"],
    );
    let t = Duration::from_secs(20);
    // A device is answered with 9014 only with the point's current password.
    let answered = |mn: &'static str, pw: &'static str| {
        let addr = server.hj212;
        async move {
            let mut link = Link::connect(addr).await.expect("connects");
            let mut logger = Logger::gas(mn, pw, 2, crate::midnight_days_ago(1), 7);
            let (qn, _, m) = logger.next_message(1_700_000_000_000);
            link.send_data(&m, &qn, t).await.is_ok()
        }
    };

    // Created through /api/v1/points, with a district and an enterprise.
    let body = r#"{"id":"pt1","name":"一号排口","mn":"MNONE0001","password":"pw-1","kind":"gas_outlet",
        "district":"lixia","enterprise":"91370100MA3C000001","location":[117.05,36.66]}"#;
    let r = server.request("POST", "/api/v1/points", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let entry = server
        .get_json("/api/v1/registries/monitoring_points/entries/pt1")
        .await;
    assert_eq!(entry["data"]["district"], "lixia", "{entry}");
    assert_eq!(entry["data"]["mn"], "MNONE0001");
    assert!(
        entry["data"].get("password").is_none(),
        "write-only: {entry}"
    );
    assert!(answered("MNONE0001", "pw-1").await);
    // Its district officer and its enterprise see it; another district's officer does not.
    let ids = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let as_user = |token: &str| {
        let token = token.to_owned();
        let server = &server;
        async move {
            let r = server
                .request_as(&token, "GET", "/api/v1/points", None)
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json().expect("json")
        }
    };
    assert_eq!(ids(as_user(&lixia).await), ["pt1"]);
    assert_eq!(ids(as_user(&owner).await), ["pt1"]);
    assert!(ids(as_user(&other).await).is_empty());

    // Edited through the registry: a new password and another district. The device with
    // the new password is answered at once, the old one refused; the scopes follow.
    let mut data = entry["data"].clone();
    data["password"] = "pw-2".into();
    data["district"] = "shizhong".into();
    let version = entry["version"].as_i64().expect("version");
    let r = server
        .request(
            "PUT",
            &format!("/api/v1/registries/monitoring_points/entries/pt1?version={version}"),
            Some(&data.to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(answered("MNONE0001", "pw-2").await);
    assert!(!answered("MNONE0001", "pw-1").await);
    let point = server.get_json("/api/v1/points/pt1").await;
    assert_eq!(point["district"], "shizhong", "{point}");
    assert!(point.get("password").is_none());
    assert!(ids(as_user(&lixia).await).is_empty());
    assert_eq!(ids(as_user(&other).await), ["pt1"]);
    // An edit through /api/v1/points without the password keeps it.
    let body = r#"{"id":"pt1","name":"一号排口(改)","mn":"MNONE0001","kind":"gas_outlet",
        "district":"shizhong","location":[117.05,36.66]}"#;
    let r = server
        .request("PUT", "/api/v1/points/pt1", Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(answered("MNONE0001", "pw-2").await);
    let history = server
        .get_json("/api/v1/registries/monitoring_points/entries/pt1/history")
        .await;
    assert_eq!(history.as_array().map(Vec::len), Some(3), "{history}");
    assert!(
        !history.to_string().contains("pw-"),
        "no password in the history: {history}"
    );
    // Nor can it be found by a filter or a search.
    let r = server
        .request(
            "GET",
            "/api/v1/registries/monitoring_points/entries?password=pw-2",
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let found = server
        .get_json("/api/v1/registries/monitoring_points/entries?q=pw-2")
        .await;
    assert_eq!(found["total"], 0, "{found}");
    let csv = server
        .request(
            "GET",
            "/api/v1/registries/monitoring_points/export?format=csv",
            None,
        )
        .await
        .text();
    assert!(csv.contains("MNONE0001") && !csv.contains("pw-2"), "{csv}");

    // Created through the registry: a point at once, for the API and the gateway.
    let body = r#"{"id":"pt2","name":"二号排口","mn":"MNTWO0002","password":"pw-3","kind":"water_outlet",
        "district":"lixia"}"#;
    let r = server
        .request(
            "POST",
            "/api/v1/registries/monitoring_points/entries",
            Some(body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let point = server.get_json("/api/v1/points/pt2").await;
    assert_eq!(point["kind"], "water_outlet", "{point}");
    assert!(answered("MNTWO0002", "pw-3").await);
    assert_eq!(ids(as_user(&lixia).await), ["pt2"]);
    // Its MN is unique across both ways in, and so is its id.
    let clash = r#"{"id":"pt3","name":"n","mn":"MNTWO0002","password":"x","kind":"other"}"#;
    let r = server.request("POST", "/api/v1/points", Some(clash)).await;
    assert_eq!(r.status, 409, "{}", r.text());
    let taken = r#"{"id":"pt2","name":"n","mn":"MNTWO0009","password":"x","kind":"other"}"#;
    let r = server.request("POST", "/api/v1/points", Some(taken)).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text().contains("pt2") && r.text().contains("exists"),
        "{}",
        r.text()
    );
    // Deleted through the registry: gone from the points and refused by the gateway.
    let r = server
        .request(
            "DELETE",
            "/api/v1/registries/monitoring_points/entries/pt2",
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = server.request("GET", "/api/v1/points/pt2", None).await;
    assert_eq!(r.status, 404);
    assert!(!answered("MNTWO0002", "pw-3").await);
}

//! Assessments from stored data: AQI per station and for the city, water class per month;
//! corrections change them at once.

use std::time::Duration;

use hj212::packet::Version;
use hj212::{DataArea, FieldKind, Flag, LocalTime, Message};
use simulator::Link;

use crate::{TempDir, TestServer, midnight_days_ago};

const T: Duration = Duration::from_secs(20);

fn hourly(
    mn: &str,
    st: &str,
    start: i64,
    values: &[(&str, &str, &str)],
    qn: u32,
) -> (String, Message) {
    let qn = format!("20261101000000{qn:03}");
    let mut cp = DataArea::new().data_time(LocalTime::from_unix_millis(start * 1000));
    for (code, avg, flag) in values {
        cp = cp.pollutant(code, &[(FieldKind::Avg, *avg), (FieldKind::Flag, *flag)]);
    }
    let m = Message::new(
        Some(&qn),
        st,
        "2061",
        Some("123456"),
        Some(mn),
        Some(Flag::new(Version::V2017, false, true)),
    )
    .with_cp(cp);
    (qn, m)
}

#[tokio::test]
async fn aqi_and_water_class_from_stored_hourly_data() {
    let dir = TempDir::new("assess");
    std::fs::write(
        dir.0.join("points.toml"),
        "[[points]]\nid = \"air1\"\nname = \"station\"\nmn = \"AIR0001\"\npassword = \"123456\"\nkind = \"air_station\"\n\n\
         [[points]]\nid = \"w1\"\nname = \"section\"\nmn = \"WAT0001\"\npassword = \"123456\"\nkind = \"water_section\"\n",
    )
    .expect("points");
    let server = TestServer::start(&dir.0, "");
    let day = midnight_days_ago(2);
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let mut n = 0;
    for h in -7..24i64 {
        let pm25 = if h == 5 {
            ("a34004", "999", "D")
        } else {
            ("a34004", "75", "N")
        };
        let values = [
            pm25,
            ("a34002", "50", "N"),
            ("a21026", "5", "N"),
            ("a21004", "20", "N"),
            ("a21005", "0.6", "N"),
            ("a05024", "120", "N"),
        ];
        n += 1;
        let (qn, m) = hourly("AIR0001", "22", day + h * 3600, &values, n);
        link.send_data(&m, &qn, T).await.expect("9014");
    }
    let date = LocalTime::from_unix_millis(day * 1000);
    let date = format!("{:04}-{:02}-{:02}", date.year, date.month, date.day);
    let r = server
        .get_json(&format!("/api/v1/points/air1/aqi?date={date}"))
        .await;
    assert_eq!(r["standard"], "HJ 633-2026");
    let hours = r["hourly"].as_array().expect("hourly");
    assert_eq!(hours.len(), 24);
    assert_eq!(hours[10]["report"]["aqi"], 114);
    assert_eq!(hours[10]["report"]["primary"], serde_json::json!(["PM2.5"]));
    assert!(
        hours[5]["report"]["aqi"].is_null(),
        "PM2.5 invalid (flag D), the rest <= 100: NA"
    );
    assert_eq!(r["daily"]["aqi"], 114, "{}", r["daily"]);
    assert!(
        r["invalid"].as_array().expect("invalid").is_empty(),
        "{}",
        r["invalid"]
    );
    let city = server
        .get_json(&format!("/api/v1/aqi/city?date={date}"))
        .await;
    assert_eq!(city["daily"]["aqi"], 114);

    // A correction of 10:00 changes the result at once.
    n += 1;
    let (qn, m) = hourly(
        "AIR0001",
        "22",
        day + 10 * 3600,
        &[("a34004", "150", "N")],
        n,
    );
    link.send_data(&m, &qn, T).await.expect("9014");
    let r = server
        .get_json(&format!("/api/v1/points/air1/aqi?date={date}"))
        .await;
    assert_eq!(r["hourly"][10]["report"]["aqi"], 200);

    // Water: the registry gives the target class; the monthly mean decides.
    let entry = r#"{"code":"S1","name":"section","river":"r","district":"lixia","location":[117,36.6],
                    "level":"city","target_class":"III","mn":"WAT0001"}"#;
    assert_eq!(
        server
            .request(
                "POST",
                "/api/v1/registries/water_sections/entries",
                Some(entry)
            )
            .await
            .status,
        201
    );
    for (i, nh3n) in ["0.4", "1.4", "0.9"].iter().enumerate() {
        n += 1;
        let (qn, m) = hourly(
            "WAT0001",
            "21",
            day + i as i64 * 3600,
            &[("w21003", nh3n, "N"), ("w01001", "7.5", "N")],
            n,
        );
        link.send_data(&m, &qn, T).await.expect("9014");
    }
    let r = server
        .get_json(&format!("/api/v1/points/w1/water?month={}", &date[..7]))
        .await;
    assert_eq!(r["target_class"], "III");
    assert_eq!(r["assessment"]["class"], "III", "{r}");
    assert_eq!(r["assessment"]["meets_target"], true);
    assert_eq!(r["samples"]["nh3n"], 3);
    let bad = server
        .request("GET", "/api/v1/points/air1/aqi?date=someday", None)
        .await;
    assert_eq!(bad.status, 400);
}

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

fn interval(
    mn: &str,
    cn: &str,
    start: i64,
    values: &[(&str, &str, &str)],
    qn: u32,
) -> (String, Message) {
    let (qn, mut m) = hourly(mn, "31", start, values, qn);
    m.set("CN", cn);
    (qn, m)
}

#[tokio::test]
async fn emission_hours_and_noise_verdicts_from_stored_data() {
    let dir = TempDir::new("emissions");
    std::fs::write(
        dir.0.join("points.toml"),
        "[[points]]\nid = \"stack\"\nname = \"stack\"\nmn = \"GAS0001\"\npassword = \"123456\"\nkind = \"gas_outlet\"\nmin_interval_min = 10\n\
         [points.codes.a21026]\nlimit = 35.0\nref_o2 = 6.0\n\n\
         [[points]]\nid = \"n1\"\nname = \"noise\"\nmn = \"NOI0001\"\npassword = \"123456\"\nkind = \"noise\"\n",
    )
    .expect("points");
    let server = TestServer::start(&dir.0, "");
    let day = midnight_days_ago(2);
    let mut link = Link::connect(server.hj212).await.expect("connects");
    let mut n = 0;
    // 08:00: six valid 10-minute rows of 30 mg/m3 at 9 % O2 -> 37.5 at 6 %: exceeds 35.
    // 09:00: two rows flagged D -> 40 valid minutes: not a valid hour.
    for k in 0..12i64 {
        let flag = if (6..8).contains(&k) { "D" } else { "N" };
        n += 1;
        let (qn, m) = interval(
            "GAS0001",
            "2051",
            day + 8 * 3600 + k * 600,
            &[("a21026", "30", flag), ("a19001", "9", "N")],
            n,
        );
        link.send_data(&m, &qn, T).await.expect("9014");
    }
    let date = LocalTime::from_unix_millis(day * 1000);
    let date = format!("{:04}-{:02}-{:02}", date.year, date.month, date.day);
    let r = server
        .get_json(&format!("/api/v1/points/stack/emissions?date={date}"))
        .await;
    let hours = r.as_array().expect("hours");
    assert_eq!(hours.len(), 2, "{r}");
    assert_eq!(
        (
            hours[0]["valid_minutes"].as_u64(),
            hours[0]["valid"].as_bool()
        ),
        (Some(60), Some(true))
    );
    assert_eq!(hours[0]["converted"], "37.500");
    assert_eq!(hours[0]["exceeds"], true);
    assert_eq!(
        (
            hours[1]["valid_minutes"].as_u64(),
            hours[1]["valid"].as_bool()
        ),
        (Some(40), Some(false))
    );
    assert!(hours[1]["exceeds"].is_null());

    // Noise: zone 2 from the registry; day 58, night 52 -> the night exceeds 50.
    let entry = r#"{"code":"N1","name":"noise","district":"lixia","location":[117,36.6],"zone_class":"2","mn":"NOI0001"}"#;
    assert_eq!(
        server
            .request(
                "POST",
                "/api/v1/registries/noise_points/entries",
                Some(entry)
            )
            .await
            .status,
        201
    );
    for h in 0..24i64 {
        let la = if (6..22).contains(&h) { "58" } else { "52" };
        n += 1;
        let (qn, m) = hourly("NOI0001", "23", day + h * 3600, &[("LA", la, "N")], n);
        link.send_data(&m, &qn, T).await.expect("9014");
    }
    let r = server
        .get_json(&format!("/api/v1/points/n1/noise?date={date}"))
        .await;
    assert_eq!(r["zone"], "2");
    assert_eq!(
        (r["verdict"]["ld"].as_f64(), r["verdict"]["ln"].as_f64()),
        (Some(58.0), Some(52.0))
    );
    assert_eq!(
        (
            r["verdict"]["day_ok"].as_bool(),
            r["verdict"]["night_ok"].as_bool()
        ),
        (Some(true), Some(false))
    );
}

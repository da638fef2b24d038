//! `huanghe hj212 decode|encode|crc` on the command line.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const PACKETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../hj212/testdata/packets.txt");

fn huanghe(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_huanghe"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("the binary ends")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn decode_the_packet_collection() {
    let out = huanghe(&["hj212", "decode", PACKETS], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects = json_lines(&out);
    assert_eq!(objects.len(), 78);
    let valid = objects.iter().filter(|o| o["ok"] == true).count();
    assert_eq!(
        valid, 71,
        "the collection has 71 frames with a valid CRC and length"
    );
    let swapped = objects
        .iter()
        .filter(|o| o["crc"]["variant"] == "modbus_swapped")
        .count();
    assert_eq!(swapped, 2);
}

#[test]
fn strict_mode_fails_on_invalid_frames() {
    let out = huanghe(&["hj212", "decode", "--strict", PACKETS], b"");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn raw_stream_from_stdin_split_and_with_garbage() {
    let mut stream = b"\x00\x00garbage".to_vec();
    stream.extend_from_slice(b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n");
    stream.extend_from_slice(b"##0087QN=20160801085857223;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&3240\r\n");
    let out = huanghe(&["hj212", "decode", "--format", "raw"], &stream);
    assert!(out.status.success());
    let objects = json_lines(&out);
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["params"]["RtdInterval"], "30");
    assert_eq!(objects[0]["deviations"][0]["kind"], "skipped_bytes");
    assert_eq!(objects[1]["cn"], "9014");
}

#[test]
fn decode_encode_round_trip_through_the_cli() {
    let frame = b"##0325QN=20160801085000001;ST=32;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801084000;w00000-Cou=10.5,w00000-Min=16.4,w00000-Avg=17.5,w00000-Max=20.1,w00000-Flag=N;w01001-Min=7.1,w01001-Avg=7.5,w01001-Max=7.8,w01001-Flag=N;w01018-Cou=10.5,w01018-Min=40.1,w01018-Avg=40.1,w01018-Max=40.1,w01018-Flag=N&&6180\r\n";
    let decoded = huanghe(&["hj212", "decode", "--format", "raw"], frame);
    assert!(decoded.status.success());
    let encoded = huanghe(&["hj212", "encode"], &decoded.stdout);
    assert!(
        encoded.status.success(),
        "{}",
        String::from_utf8_lossy(&encoded.stderr)
    );
    assert_eq!(encoded.stdout, frame);
}

#[test]
fn encode_splits_and_reports_bad_json() {
    let mut pollutants = serde_json::Map::new();
    for i in 0..30 {
        pollutants.insert(
            format!("w{:05}", 1000 + i),
            serde_json::json!({"avg": 12.5, "flag": "N"}),
        );
    }
    let message = serde_json::json!({
        "qn": "20160801085857534", "st": "32", "cn": "2061", "pw": "123456",
        "mn": "010000A8900016F000169DC0", "flag": 5, "data_time": "20160801080000",
        "pollutants": pollutants,
    });
    let out = huanghe(
        &["hj212", "encode", "--split", "300"],
        message.to_string().as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded = huanghe(&["hj212", "decode", "--format", "raw"], &out.stdout);
    let pieces = json_lines(&decoded);
    assert!(pieces.len() > 2);
    assert!(pieces.iter().all(|p| p["ok"] == true && p["flag"] == 7));
    assert_eq!(pieces[1]["qn"], "20160801085857535");

    let bad = huanghe(&["hj212", "encode"], br#"{"st": "32"}"#);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("missing \"cn\""));
}

#[test]
fn crc_of_the_appendix_a_example() {
    let out = huanghe(
        &["hj212", "crc"],
        b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1C80");
}

#[test]
fn calc_judges_by_the_standards_and_names_bad_input() {
    let out = huanghe(
        &[
            "calc",
            "aqi",
            "--time",
            "2026-05-01T10:00+08:00",
            "--hourly",
            "pm25=75",
            "pm10=50",
            "so2=5",
            "no2=20",
            "co=0.6",
            "o3=120",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["standard"], "HJ 633-2026");
    assert_eq!(r["aqi"], 114);
    assert_eq!(r["primary"], serde_json::json!(["PM2.5"]));
    assert_eq!(r["level"]["category_zh"], "轻度污染");
    // The same values before 2026-03-01 fall under HJ 633-2012.
    let out = huanghe(
        &[
            "calc",
            "aqi",
            "--time",
            "2025-05-01T10:00:00+08:00",
            "--hourly",
            "pm25=75",
            "pm10=50",
            "so2=5",
            "no2=20",
            "co=0.6",
            "o3=120",
        ],
        b"",
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (r["standard"].as_str(), r["aqi"].as_u64()),
        (Some("HJ 633-2012"), Some(100))
    );

    let out = huanghe(
        &[
            "calc",
            "water",
            "--target",
            "III",
            "ph=7.2",
            "do=6.1",
            "codmn=4.5",
            "nh3n=0.8",
            "tp=0.15",
        ],
        b"",
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (r["class"].as_str(), r["meets_target"].as_bool()),
        (Some("III"), Some(true))
    );

    let hours = (0..24)
        .map(|h| if (6..22).contains(&h) { "58" } else { "48" })
        .collect::<Vec<_>>()
        .join(",");
    let out = huanghe(
        &["calc", "noise", "--zone", "2", "--leq-hourly", &hours],
        b"",
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (r["day_ok"].as_bool(), r["night_ok"].as_bool()),
        (Some(true), Some(true))
    );

    let out = huanghe(
        &[
            "calc",
            "convert",
            "--measured",
            "30",
            "--o2",
            "9",
            "--source",
            "coal_power_boiler",
        ],
        b"",
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["converted"], "37.500");

    for bad in [
        vec![
            "calc",
            "aqi",
            "--time",
            "2026-05-01T10:00+08:00",
            "--hourly",
            "pm3=5",
        ],
        vec!["calc", "aqi", "--time", "yesterday", "--hourly", "pm25=5"],
        vec![
            "calc",
            "aqi",
            "--time",
            "2026-05-01T10:00+08:00",
            "--hourly",
            "pm25=-5",
        ],
        vec!["calc", "water", "nh3n=lots"],
        vec![
            "calc",
            "convert",
            "--measured",
            "30",
            "--o2",
            "21",
            "--ref-o2",
            "6",
        ],
        vec!["calc", "noise", "--zone", "9", "--leq-hourly", "1"],
    ] {
        let out = huanghe(&bad, b"");
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error"),
            "{bad:?}"
        );
    }
}

#[test]
fn rules_test_prints_the_alarms_a_series_raises() {
    let dir = crate::TempDir::new("rules-test");
    let points = dir.0.join("points.toml");
    std::fs::write(
        &points,
        "[[points]]\nid = \"stack\"\nname = \"stack\"\nmn = \"M1\"\npassword = \"p\"\nkind = \"gas_outlet\"\nmin_interval_min = 10\n[points.codes.a21026]\nlimit = 35.0\n",
    )
    .expect("points");
    let mut csv = String::from("time,type,code,avg,rtd,flag\n");
    // 08:00 and 09:00 above 35, 10:00 below: one alarm, 08:00-10:00, cleared.
    for (hour, v) in [(8, "40"), (9, "41"), (10, "20")] {
        for m in (0..60).step_by(10) {
            csv.push_str(&format!(
                "2026-11-20T{hour:02}:{m:02}:00+08:00,min,a21026,{v},,N\n"
            ));
        }
    }
    let series = dir.0.join("series.csv");
    std::fs::write(&series, csv).expect("series");
    let out = huanghe(
        &[
            "rules",
            "test",
            "default",
            series.to_str().expect("path"),
            "--points",
            points.to_str().expect("path"),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alarms = json_lines(&out);
    let exceed: Vec<&serde_json::Value> = alarms
        .iter()
        .filter(|a| a["rule"] == "source_exceedance")
        .collect();
    assert_eq!(exceed.len(), 1, "{alarms:?}");
    assert_eq!(exceed[0]["start"], "2026-11-20T08:00:00+08:00");
    assert_eq!(exceed[0]["end"], "2026-11-20T10:00:00+08:00");
    assert_eq!(exceed[0]["ongoing"], false);
    let bad = huanghe(
        &[
            "rules",
            "test",
            "/nonexistent.toml",
            series.to_str().expect("path"),
            "--points",
            points.to_str().expect("path"),
        ],
        b"",
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn rules_test_takes_the_neighbouring_stations_from_a_point_column() {
    let dir = crate::TempDir::new("rules-test-neighbours");
    let points = dir.0.join("points.toml");
    let mut toml = String::new();
    for (k, id) in ["A", "B", "C", "D"].iter().enumerate() {
        toml.push_str(&format!(
            "[[points]]\nid = \"{id}\"\nname = \"{id}\"\nmn = \"M{k}\"\npassword = \"p\"\nkind = \"air_station\"\nlocation = [{}, 36.65]\n",
            117.0 + 0.04 * k as f64
        ));
    }
    std::fs::write(&points, toml).expect("points");
    // Eight days of the city's weather at four stations; A reads 40 % for its last ten hours.
    let mut csv = String::from("point,time,type,code,avg,flag\n");
    let start = bjtime::parse_rfc3339("2026-10-01T00:00:00+08:00").expect("time") / 1000;
    for h in 0..8 * 24i64 {
        let weather = 60.0 + 25.0 * (h as f64 / 19.0).sin();
        for (k, id) in ["A", "B", "C", "D"].iter().enumerate() {
            let own = 1.0 + 0.05 * (h as f64 * 0.7 + k as f64).sin();
            let drop = if *id == "A" && h >= 8 * 24 - 10 {
                0.4
            } else {
                1.0
            };
            csv.push_str(&format!(
                "{id},{},hour,a34004,{:.0},N\n",
                bjtime::rfc3339(start + h * 3600),
                weather * own * drop
            ));
        }
    }
    let series = dir.0.join("series.csv");
    std::fs::write(&series, csv).expect("series");
    let run = |point: &str| {
        let out = huanghe(
            &[
                "rules",
                "test",
                "default",
                series.to_str().expect("path"),
                "--points",
                points.to_str().expect("path"),
                "--point",
                point,
            ],
            b"",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_lines(&out)
            .into_iter()
            .filter(|a| a["rule"] == "air_neighbour_divergence")
            .collect::<Vec<_>>()
    };
    let a = run("A");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        a[0]["evidence"]["neighbours"].as_array().map(Vec::len),
        Some(3)
    );
    assert!(run("B").is_empty(), "the neighbours stay as they were");
}

#[test]
fn hj1239_decode_prints_a_json_object_per_frame_and_reports_garbage() {
    let login = "2323014C47444348393147384B413134313236390101001C1401080E0806000338393836313131393232323033353530373837373A";
    let input = format!("{login}\nDEAD\n");
    let out = huanghe(&["hj1239", "decode"], input.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["command"], "login");
    assert_eq!(lines[0]["vin"], "LGDCH91G8KA141269");
    assert_eq!(lines[0]["vin_check"], "ok");
    assert_eq!(
        lines[0]["message"]["login"]["time"],
        "2020-01-08T14:08:06+08:00"
    );
    assert_eq!(
        lines[0]["message"]["login"]["iccid"],
        "89861119222035507877"
    );
    assert_eq!(lines[1]["skipped"], 2);
    let strict = huanghe(&["hj1239", "decode", "--strict"], input.as_bytes());
    assert_eq!(strict.status.code(), Some(1));
    let decoded = huanghe(&["hj1239", "decode"], login.as_bytes());
    let encoded = huanghe(&["hj1239", "encode"], &decoded.stdout);
    assert!(
        encoded.status.success(),
        "{}",
        String::from_utf8_lossy(&encoded.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&encoded.stdout).trim(), login);
    let bad = huanghe(
        &["hj1239", "encode"],
        br#"{"vin": "LGDCH91G8KA141269", "message": {"logout": {}}}"#,
    );
    assert_eq!(bad.status.code(), Some(2), "an input error");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("object 1"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

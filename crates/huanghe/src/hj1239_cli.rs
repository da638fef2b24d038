//! `huanghe hj1239 decode`: the HJ 1239 / GB 17691 truck codec on the command line. Frames in
//! (a raw byte stream, or hexadecimal text: one frame or several per line, whitespace ignored),
//! one JSON object per frame out (JSON Lines): the header, the VIN check, the command unit's
//! fields and a report's information items; bytes that are not a frame are reported as skipped.

use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use hj1239::frame::Cut;
use hj1239::message::{ActivationResult, Position};
use hj1239::report::{self, DieselStream, Info, ObdInfo};
use hj1239::{Frame, Framer, Message};
use serde_json::{Value, json};

/// The `hj1239` subcommands.
#[derive(Debug, Subcommand)]
pub enum Hj1239Command {
    /// Decode frames from FILE (or stdin) and print one JSON object per frame.
    Decode(DecodeArgs),
}

/// How `decode` reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Hexadecimal text if the input is only hex digits and whitespace, else raw.
    Auto,
    /// A raw byte stream, as received from a terminal.
    Raw,
    /// Hexadecimal text.
    Hex,
}

/// Arguments of `decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Input file; stdin when absent or `-`.
    file: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    format: InputFormat,
    /// Exit with status 1 if any bytes are not a frame, a frame's data unit cannot be read or
    /// its VIN fails the check digit.
    #[arg(long)]
    strict: bool,
}

/// Runs an `hj1239` subcommand.
pub fn run(cmd: Hj1239Command) -> Result<ExitCode> {
    let Hj1239Command::Decode(a) = cmd;
    let mut input = Vec::new();
    match a.file.as_deref() {
        Some(p) if p.as_os_str() != "-" => {
            input = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?
        }
        _ => {
            io::stdin().read_to_end(&mut input)?;
        }
    }
    let is_hex = |b: &[u8]| {
        b.iter()
            .all(|c| c.is_ascii_hexdigit() || c.is_ascii_whitespace())
    };
    let bytes = match a.format {
        InputFormat::Hex => from_hex(&input)?,
        InputFormat::Auto if is_hex(&input) => from_hex(&input)?,
        _ => input,
    };
    let mut framer = Framer::default();
    framer.push(&bytes);
    let mut out = BufWriter::new(io::stdout().lock());
    let (mut offset, mut bad) = (0usize, false);
    let mut cuts = Vec::new();
    while let Some(c) = framer.next_cut() {
        cuts.push(c);
    }
    if framer.pending() > 0 {
        cuts.push(Cut::Skipped {
            bytes: bytes[bytes.len() - framer.pending()..].to_vec(),
            reason: hj1239::FrameError::Short(framer.pending()),
        });
    }
    for cut in cuts {
        let (len, v) = match &cut {
            Cut::Frame(b) => {
                let v = frame_json(b, offset);
                bad |= v.get("error").is_some() || v["vin_check"] != "ok";
                (b.len(), v)
            }
            Cut::Skipped { bytes, reason } => {
                bad = true;
                (
                    bytes.len(),
                    json!({"offset": offset, "skipped": bytes.len(), "error": reason.to_string()}),
                )
            }
        };
        writeln!(out, "{v}")?;
        offset += len;
    }
    out.flush()?;
    Ok(if a.strict && bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn from_hex(text: &[u8]) -> Result<Vec<u8>> {
    Ok(hj1239::frame::from_hex(&String::from_utf8_lossy(text))?)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn time(t: hj1239::Time) -> String {
    bjtime::rfc3339(t.to_unix())
}

fn position(p: &Position) -> Value {
    let deg = |v: Option<u32>| v.map(|v| f64::from(v) / 1e6);
    json!({
        "fix": p.status & 1 == 0, "south": p.status & 2 != 0, "west": p.status & 4 != 0,
        "longitude": deg(p.longitude), "latitude": deg(p.latitude),
    })
}

fn obd(o: &ObdInfo) -> Value {
    json!({
        "type": "obd", "protocol": o.protocol, "mil_on": o.mil_on,
        "support": format!("{:016b}", o.support), "readiness": format!("{:016b}", o.readiness),
        "vin": o.vin, "cal_id": o.cal_id, "cvn": hex(&o.cvn), "iupr": o.iupr,
        "dtcs": o.dtcs.as_ref().map(|d| d.iter().map(|x| hex(x)).collect::<Vec<_>>()),
    })
}

fn diesel(s: &DieselStream) -> Value {
    json!({
        "type": "diesel", "speed_kmh": s.speed, "atmospheric_pressure_kpa": s.atmospheric_pressure,
        "net_torque_pct": s.net_torque, "friction_torque_pct": s.friction_torque,
        "engine_speed_rpm": s.engine_speed, "fuel_flow_lh": s.fuel_flow,
        "nox_upstream_ppm": s.nox_upstream, "nox_downstream_ppm": s.nox_downstream,
        "reagent_level_pct": s.reagent_level, "intake_air_flow_kgh": s.intake_air_flow,
        "scr_inlet_temperature_c": s.scr_inlet_temperature,
        "scr_outlet_temperature_c": s.scr_outlet_temperature,
        "dpf_pressure_drop_kpa": s.dpf_pressure_drop, "coolant_temperature_c": s.coolant_temperature,
        "fuel_level_pct": s.fuel_level, "position": position(&s.position), "mileage_km": s.mileage,
    })
}

fn report_json(t: hj1239::Time, body: &[u8]) -> Value {
    let mut v = json!({"time": time(t)});
    match report::annex_q_items(body) {
        Ok(items) => {
            v["items"] = items
                .items
                .iter()
                .map(|(serial, info)| {
                    let mut i = match info {
                        Info::Obd(o) => obd(o),
                        Info::Diesel(s) => diesel(s),
                    };
                    i["serial"] = (*serial).into();
                    i
                })
                .collect();
            if let Some((kind, rest)) = items.unread {
                v["unread"] = json!({"type": kind, "hex": hex(&rest)});
            }
        }
        Err(e) => {
            v["error"] = e.to_string().into();
            v["hex"] = hex(body).into();
        }
    }
    v
}

fn message_json(m: &Message) -> Value {
    match m {
        Message::Login {
            time: t,
            serial,
            iccid,
        } => json!({"time": time(*t), "serial": serial, "iccid": iccid}),
        Message::RealTime { time: t, body } | Message::Reissue { time: t, body } => {
            report_json(*t, body)
        }
        Message::Logout { time: t, serial } => json!({"time": time(*t), "serial": serial}),
        Message::TimeCalibration(t) => json!({"time": t.map(time)}),
        Message::AntiRemoval {
            time: t,
            serial,
            position: p,
        } => json!({"time": time(*t), "serial": serial, "position": position(p)}),
        Message::Activation(b) => json!({"hex": hex(b)}),
        Message::ActivationReply(r) => json!({"result": match r {
            ActivationResult::Success => "success",
            ActivationResult::AlreadyFiled => "already_filed",
            ActivationResult::VinError => "vin_error",
            ActivationResult::UnknownError => "unknown_error",
        }}),
        Message::Other(code, b) => json!({"code": code, "hex": hex(b)}),
    }
}

fn frame_json(bytes: &[u8], offset: usize) -> Value {
    let f = match Frame::parse(bytes) {
        Ok(f) => f,
        Err(e) => return json!({"offset": offset, "error": e.to_string()}),
    };
    let command = hj1239::Command::of(f.command);
    let mut v = json!({
        "offset": offset,
        "command": command.name(),
        "command_code": f.command,
        "vin": f.vin,
        "vin_check": match hj1239::vin::check(&f.vin) { Ok(()) => "ok".to_owned(), Err(e) => e.to_string() },
        "software_version": f.software_version,
        "encryption": f.encryption,
        "length": f.data.len(),
    });
    match Message::decode(&f) {
        Ok(m) => v["message"] = message_json(&m),
        Err(e) => v["error"] = e.to_string().into(),
    }
    v
}

//! `huanghe hj1239 decode|encode`: the HJ 1239 / GB 17691 truck codec on the command line.
//!
//! `decode`: frames in (a raw byte stream, or hexadecimal text: one frame or several per line,
//! whitespace ignored), one JSON object per frame out (JSON Lines): the header, the VIN check,
//! the command unit's fields (a report's body as hex, exactly as received) and, for a report,
//! its items read in the layout given or detected, with DTCs typed and monitor maps named;
//! bytes that are not a frame are reported as skipped.
//!
//! `encode`: those objects back into frames (a JSON array, one object, or JSON Lines). A
//! report's body is written from its `report` when there is one (edit the values there), else
//! from `message`'s hex body; objects that are decode errors or skipped bytes are passed over.

use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use hj1239::frame::Cut;
use hj1239::report::{BitOrder, Info, Layout, Report};
use hj1239::{Frame, Framer, Message};
use serde_json::{Value, json};

/// The `hj1239` subcommands.
#[derive(Debug, Subcommand)]
pub enum Hj1239Command {
    /// Decode frames from FILE (or stdin) and print one JSON object per frame.
    Decode(DecodeArgs),
    /// Encode JSON objects (as `decode` prints them) from FILE (or stdin) into frames.
    Encode(EncodeArgs),
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

/// Which real-time layout to read reports in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// The layout that reads the whole body (HJ 1239-2021, the 2019 draft, GB 17691 Annex Q).
    Auto,
    /// GB 17691-2018 Annex Q.
    Gb17691,
    /// HJ 1239-2021.
    Hj1239,
    /// The 2019 draft.
    Draft2019,
}

/// The monitor maps' bit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BitOrderArg {
    /// Monitor 1 (catalyst) in bit 0 of the word.
    Lsb0,
    /// Monitor 1 in the most significant bit.
    Msb0,
}

/// Arguments of `decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Input file; stdin when absent or `-`.
    file: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    format: InputFormat,
    /// The reports' layout.
    #[arg(long, value_enum, default_value = "auto")]
    layout: LayoutArg,
    /// The OBD monitor maps' bit order (it differs between terminal models).
    #[arg(long, value_enum, default_value = "lsb0")]
    bit_order: BitOrderArg,
    /// Exit with status 1 if any bytes are not a frame, a frame's data unit or report cannot
    /// be read or its VIN fails the check digit.
    #[arg(long)]
    strict: bool,
}

/// How `encode` writes frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One frame per line in hexadecimal.
    Hex,
    /// The raw bytes, back to back, as a terminal sends them.
    Raw,
}

/// Arguments of `encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// Input file; stdin when absent or `-`.
    file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "hex")]
    format: OutputFormat,
}

/// Runs an `hj1239` subcommand.
pub fn run(cmd: Hj1239Command) -> Result<ExitCode> {
    match cmd {
        Hj1239Command::Decode(a) => decode(a),
        Hj1239Command::Encode(a) => encode(a),
    }
}

fn read_input(file: &Option<PathBuf>) -> Result<Vec<u8>> {
    let mut input = Vec::new();
    match file.as_deref() {
        Some(p) if p.as_os_str() != "-" => {
            input = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?
        }
        _ => {
            io::stdin().read_to_end(&mut input)?;
        }
    }
    Ok(input)
}

fn decode(a: DecodeArgs) -> Result<ExitCode> {
    let input = read_input(&a.file)?;
    let is_hex = |b: &[u8]| {
        b.iter()
            .all(|c| c.is_ascii_hexdigit() || c.is_ascii_whitespace())
    };
    let from_hex = |text: &[u8]| hj1239::frame::from_hex(&String::from_utf8_lossy(text));
    let bytes = match a.format {
        InputFormat::Hex => from_hex(&input)?,
        InputFormat::Auto if is_hex(&input) => from_hex(&input)?,
        _ => input,
    };
    let layout = match a.layout {
        LayoutArg::Auto => None,
        LayoutArg::Gb17691 => Some(Layout::AnnexQ),
        LayoutArg::Hj1239 => Some(Layout::Hj1239),
        LayoutArg::Draft2019 => Some(Layout::Draft2019),
    };
    let order = match a.bit_order {
        BitOrderArg::Lsb0 => BitOrder::Lsb0,
        BitOrderArg::Msb0 => BitOrder::Msb0,
    };
    let mut framer = Framer::default();
    framer.push(&bytes);
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
    let mut out = BufWriter::new(io::stdout().lock());
    let (mut offset, mut bad) = (0usize, false);
    for cut in cuts {
        let (len, v) = match &cut {
            Cut::Frame(b) => {
                let v = frame_json(b, offset, layout, order);
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

/// A report's JSON with, for each OBD item, its DTCs typed and its monitor maps named.
fn report_json(r: &Report, order: BitOrder) -> Result<Value> {
    let mut v = serde_json::to_value(r)?;
    for (item, json) in r.items.iter().zip(
        v["items"]
            .as_array_mut()
            .map(|a| a.iter_mut())
            .into_iter()
            .flatten(),
    ) {
        if let Info::Obd(o) = &item.info {
            let summary = serde_json::to_value(o.summary(order))?;
            if let (Some(info), Some(extra)) = (json["info"].as_object_mut(), summary.as_object()) {
                info.extend(extra.clone());
            }
        }
    }
    Ok(v)
}

fn frame_json(bytes: &[u8], offset: usize, layout: Option<Layout>, order: BitOrder) -> Value {
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
    let m = match Message::decode(&f) {
        Ok(m) => m,
        Err(e) => {
            v["error"] = e.to_string().into();
            return v;
        }
    };
    v["message"] = serde_json::to_value(&m).unwrap_or(Value::Null);
    if let Message::RealTime { time, body } | Message::Reissue { time, body } = &m {
        let read = match layout {
            Some(l) => Report::read(*time, body, l),
            None => Report::detect(*time, body),
        };
        match read
            .map_err(anyhow::Error::from)
            .and_then(|r| report_json(&r, order))
        {
            Ok(r) => v["report"] = r,
            Err(e) => v["error"] = e.to_string().into(),
        }
    }
    v
}

fn encode(a: EncodeArgs) -> Result<ExitCode> {
    let text = String::from_utf8(read_input(&a.file)?).context("input is not UTF-8")?;
    let values = crate::hj212_cli::json_objects(&text)?;
    let mut out = BufWriter::new(io::stdout().lock());
    for (i, v) in values.iter().enumerate() {
        if v.get("message").is_none() && (v.get("error").is_some() || v.get("skipped").is_some()) {
            continue;
        }
        let frame = frame_from_json(v).with_context(|| format!("object {}", i + 1))?;
        match a.format {
            OutputFormat::Hex => writeln!(out, "{}", hex(&frame))?,
            OutputFormat::Raw => out.write_all(&frame)?,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn frame_from_json(v: &Value) -> Result<Vec<u8>> {
    let vin = v["vin"]
        .as_str()
        .context("\"vin\" (17 characters) is missing")?;
    let software_version = match &v["software_version"] {
        Value::Null => 1,
        s => u8::try_from(s.as_u64().context("\"software_version\" is not a number")?)
            .context("\"software_version\" is above 255")?,
    };
    if !matches!(v["encryption"].as_u64(), None | Some(1)) {
        bail!("only unencrypted frames (encryption 1) can be encoded");
    }
    let mut m: Message = serde_json::from_value(v["message"].clone())
        .context("\"message\" is not a command unit")?;
    if !v["report"].is_null() {
        let r: Report =
            serde_json::from_value(v["report"].clone()).context("\"report\" is not a report")?;
        match &mut m {
            Message::RealTime { time, body } | Message::Reissue { time, body } => {
                *time = r.time;
                *body = r.encode();
            }
            _ => bail!("\"report\" given for a message that is not a report"),
        }
    }
    Ok(m.encode(vin, software_version)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME_A: &str = "2323024C47444348413147384D41313237373333010100AD15080E082F230100010100ABDEA9D64C4744434841314738\
        4D4131323737333359435933303136352D363020202020200000EC40A1BF000000000000000000000000000000000000\
        000000000000000000000000000000000000000000000000000000000000000007145600AFE00200AFE06200AFE00900\
        AF204700AF245500AFE01200AF0200010000C57D830000000000000000610000FEFFFEFFFEFF3D000006AFD31701EA55\
        FE000000289F";

    #[test]
    fn decoded_frames_encode_back() {
        let bytes = hj1239::frame::from_hex(FRAME_A).expect("hex");
        let v = frame_json(&bytes, 0, None, BitOrder::Lsb0);
        assert_eq!(v["report"]["layout"], "annex_q");
        let obd = &v["report"]["items"][0]["info"];
        assert_eq!(obd["type"], "obd");
        assert_eq!(obd["vin"], "LGDCHA1G8MA127733");
        assert_eq!(obd["dtc_codes"][4]["code"], "P2047");
        let diesel = &v["report"]["items"][1]["info"];
        assert_eq!(diesel["nox_upstream"], Value::Null, "sensor not ready");
        let mut from_message = v.clone();
        from_message["report"] = Value::Null;
        assert_eq!(frame_from_json(&from_message).expect("encode"), bytes);
        let mut edited = v.clone();
        edited["report"]["items"][1]["info"]["speed"] = json!(50.0);
        let again = frame_from_json(&edited).expect("encode");
        let back = frame_json(&again, 0, None, BitOrder::Lsb0);
        assert_eq!(back["report"]["items"][1]["info"]["speed"], 50.0);
        let mut bad = v;
        bad["encryption"] = json!(3);
        assert!(frame_from_json(&bad).is_err());
    }
}

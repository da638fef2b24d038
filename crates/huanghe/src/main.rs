//! `huanghe`: the smart ecological Yellow River supervision platform, as one binary.
//!
//! Subcommands are added as the platform grows; today they are the HJ 212 tools
//! (`huanghe hj212 decode|encode|crc`). Errors are reported with context and a non-zero exit
//! code; nothing here panics on bad input.

mod hj212_cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// huanghe: environmental supervision platform for the Yellow River basin.
#[derive(Debug, Parser)]
#[command(name = "huanghe", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// HJ 212 protocol tools: decode frames to JSON, encode JSON to frames, compute CRCs.
    #[command(subcommand)]
    Hj212(hj212_cli::Hj212Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hj212(cmd) => hj212_cli::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("huanghe: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

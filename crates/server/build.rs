//! Fetches the browser libraries the web UI embeds (uPlot, Leaflet and its marker clustering) at build time, pinned by
//! `web/package-lock.json` (versions and integrity hashes), into `OUT_DIR`: no third-party bundle
//! is committed and the source tree is not touched. `npm ci` runs once per lockfile; later builds
//! reuse what it fetched. Without Node.js and npm (or without the registry) the build still
//! succeeds and the UI says which library is missing; `HUANGHE_WEB_VENDOR` may point at a
//! `node_modules` folder fetched elsewhere (an offline build).

use std::path::{Path, PathBuf};
use std::process::Command;

/// (file in node_modules, name under /assets).
const FILES: [(&str, &str); 7] = [
    ("uplot/dist/uPlot.iife.min.js", "uplot.js"),
    ("uplot/dist/uPlot.min.css", "uplot.css"),
    ("leaflet/dist/leaflet.js", "leaflet.js"),
    ("leaflet/dist/leaflet.css", "leaflet.css"),
    (
        "leaflet.markercluster/dist/leaflet.markercluster.js",
        "markercluster.js",
    ),
    (
        "leaflet.markercluster/dist/MarkerCluster.css",
        "markercluster.css",
    ),
    (
        "leaflet.markercluster/dist/MarkerCluster.Default.css",
        "markercluster-default.css",
    ),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let web = manifest.join("web");
    println!("cargo:rerun-if-changed=web/package.json");
    println!("cargo:rerun-if-changed=web/package-lock.json");
    println!("cargo:rerun-if-env-changed=HUANGHE_WEB_VENDOR");
    let vendor_dir = out.join("web");
    let modules = match std::env::var_os("HUANGHE_WEB_VENDOR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            fetch(&web, &vendor_dir);
            vendor_dir.join("node_modules")
        }
    };
    let assets = out.join("assets");
    let _ = std::fs::create_dir_all(&assets);
    for (from, to) in FILES {
        let src = modules.join(from);
        let dst = assets.join(to);
        if std::fs::copy(&src, &dst).is_err() {
            println!(
                "cargo:warning=web UI: {} is missing (Node.js and npm fetch it at build time); the UI will say so",
                src.display()
            );
            let placeholder = if to.ends_with(".js") {
                format!(
                    "window.HUANGHE_MISSING = (window.HUANGHE_MISSING || []).concat([{to:?}]);\n"
                )
            } else {
                String::new()
            };
            let _ = std::fs::write(&dst, placeholder);
        }
    }
}

/// Runs `npm ci` for the runtime libraries into `dir` unless it already ran for this lockfile.
fn fetch(web: &Path, dir: &Path) {
    let lock = std::fs::read(web.join("package-lock.json")).unwrap_or_default();
    let stamp = dir.join("lock.stamp");
    if std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice())
        && dir.join("node_modules").exists()
    {
        return;
    }
    let _ = std::fs::create_dir_all(dir);
    for f in ["package.json", "package-lock.json"] {
        let _ = std::fs::copy(web.join(f), dir.join(f));
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--omit=dev",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
        ])
        .current_dir(dir)
        .status();
    match status {
        Ok(s) if s.success() => {
            let _ = std::fs::write(&stamp, &lock);
        }
        Ok(s) => println!("cargo:warning=web UI: npm ci failed ({s})"),
        Err(e) => println!("cargo:warning=web UI: npm not found ({e})"),
    }
}

//! `multimat data fetch-mp` through the built binary, against the local MP stand-in of
//! crates/mpfetch/tests/common: the key stays out of the output, a missing key gives one clear
//! message, and the fetched folder goes through `data import`.

#[path = "../../mpfetch/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;

const KEY: &str = "cli-KEY-93be2d41";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fetch-mp-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn multimat() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_multimat"));
    // No key from the developer's own environment or config.
    c.env_remove("MP_API_KEY");
    c.env("XDG_CONFIG_HOME", tmp("xdg"));
    c
}

#[test]
fn fetch_mp_then_import() {
    let server = common::MpServer::start(KEY);
    server.fault(
        "/materials/summary",
        1,
        common::Fault::TooMany { retry_after: 1 },
    );
    let dir = tmp("work");
    let out = dir.join("raw");
    let o = multimat()
        .env("MP_API_KEY", KEY)
        .args(["data", "fetch-mp", "--out"])
        .arg(&out)
        .args([
            "--endpoint",
            &server.endpoint(),
            "--bucket-url",
            &server.bucket_url(),
        ])
        .args(["--material-ids", "mp-149,mp-135,mp-215,mp-865805"])
        .args(["--concurrency", "2"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY));
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["materials"], 4);
    assert_eq!(summary["kinds"]["charge_density"]["fetched"], 1);
    assert_eq!(summary["kinds"]["dos"]["fetched"], 2);
    assert!(stderr.contains("skipped.jsonl"), "{stderr}");

    let store = dir.join("store");
    let o = multimat()
        .args(["data", "import", "--out"])
        .arg(&store)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["materials_added"], 4);
    assert_eq!(s["problems"], 0);
    assert_eq!(s["modalities"]["density"]["real"], 1);
    assert_eq!(s["modalities"]["dos"]["real"], 2);
}

#[test]
fn missing_and_rejected_keys_give_one_message() {
    let server = common::MpServer::start(KEY);
    let out = tmp("nokey");
    let o = multimat()
        .args(["data", "fetch-mp", "--out"])
        .arg(&out)
        .args(["--endpoint", &server.endpoint(), "--material-ids", "mp-149"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no Materials Project API key") && err.contains("MP_API_KEY"),
        "{err}"
    );
    assert!(server.log().is_empty(), "no request without a key");

    let o = multimat()
        .env("MP_API_KEY", "not-the-KEY-7731")
        .args(["data", "fetch-mp", "--out"])
        .arg(&out)
        .args(["--endpoint", &server.endpoint(), "--material-ids", "mp-149"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("rejected the API key"), "{err}");
    assert_eq!(
        err.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{err}"
    );
    assert!(
        !err.contains("not-the-KEY") && !String::from_utf8_lossy(&o.stdout).contains("not-the-KEY")
    );
}

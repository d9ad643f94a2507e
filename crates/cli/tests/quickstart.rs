//! `multimat quickstart` end to end on the shipped data with one epoch of pretraining and of
//! fine-tuning (what CI runs, so a regression in any stage breaks the build): every stage runs,
//! summary.json holds what the README promises, a second run resumes without redoing anything,
//! and a rerun with other settings is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn quickstart(out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_multimat"))
        .current_dir(repo_root())
        .args(["quickstart", "--out"])
        .arg(out)
        .args(["--epochs", "1"])
        .args(extra)
        .output()
        .expect("the multimat binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn fraction(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!((0.0..=1.0).contains(&x), "{what} = {x} is not in [0, 1]");
    x
}

#[test]
fn quickstart_runs_every_stage_resumes_and_refuses_other_settings() {
    let dir = std::env::temp_dir().join(format!("multimat-quickstart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("qs");

    let o = quickstart(&out, &["--finetune-epochs", "1"]);
    assert!(o.status.success(), "quickstart failed\n{}", text(&o));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();

    // Retrieval: every ordered pair of the four modalities, with chance beside each top-k.
    let pairs = summary["retrieval"].as_array().expect("retrieval rows");
    assert_eq!(pairs.len(), 12, "4 modalities → 12 ordered pairs");
    for p in pairs {
        let name = format!("{} → {}", p["query"], p["gallery"]);
        assert!(p["n"].as_u64().unwrap() > 0, "{name}: no test materials");
        for k in ["top1", "top5", "top10"] {
            fraction(&p[k], &format!("{name} {k}"));
            let chance = fraction(&p["chance"][k], &format!("{name} chance {k}"));
            assert!(chance > 0.0, "{name}: chance {k} is 0");
        }
        assert!(p["top1"].as_f64() <= p["top5"].as_f64());
        assert!(p["top5"].as_f64() <= p["top10"].as_f64());
    }
    for (q, g) in [("crystal", "text"), ("crystal", "phonon_dos")] {
        assert!(
            pairs.iter().any(|p| p["query"] == q && p["gallery"] == g),
            "no {q} → {g} row"
        );
    }

    // Fine-tuning: both variants on one split, MAE in GPa.
    let ft = &summary["finetune"];
    assert_eq!(ft["task"], "bulk_modulus");
    for v in ["pretrained_mae", "scratch_mae"] {
        let mae = ft[v].as_f64().unwrap_or_else(|| panic!("{v}: {ft}"));
        assert!(mae.is_finite() && mae > 0.0, "{v} = {mae}");
    }
    assert!(ft["metric"].as_str().unwrap().contains("GPa"), "{ft}");

    // Discovery: nMAE at N = 1, 5, 15 and the random baseline; best-of-N never gets worse.
    let d = &summary["discovery"];
    let at = |which: &str, n: &str| d[which][n].as_f64().unwrap_or_else(|| panic!("{d}"));
    assert!(at("nmae", "1") >= at("nmae", "5") && at("nmae", "5") >= at("nmae", "15"));
    for n in ["1", "5", "15"] {
        assert!(at("nmae", n) > 0.0 && at("random_nmae", n) > 0.0);
    }

    // UMAP images exist and are not empty; the trustworthiness is a score in [0, 1].
    let maps = summary["umap"].as_array().unwrap();
    assert_eq!(maps.len(), 3);
    for m in maps {
        fraction(&m["trustworthiness"], "trustworthiness");
        for img in m["images"].as_array().unwrap() {
            let path = PathBuf::from(img.as_str().unwrap());
            let path = if path.is_absolute() {
                path
            } else {
                repo_root().join(path)
            };
            let len = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .len();
            assert!(len > 1000, "{} is {len} bytes", path.display());
        }
    }
    let rss = summary["peak_rss_mib"].as_f64().unwrap();
    assert!(rss < 4096.0, "peak memory {rss} MiB");

    // A second run finds every stage done and rewrites the same summary.
    let again = quickstart(&out, &["--finetune-epochs", "1"]);
    assert!(again.status.success(), "rerun failed\n{}", text(&again));
    let log = String::from_utf8_lossy(&again.stderr);
    assert_eq!(log.matches("done earlier").count(), 7, "{log}");
    let resumed: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(resumed["retrieval"], summary["retrieval"]);
    assert_eq!(resumed["finetune"], summary["finetune"]);

    // Other settings on the same folder are refused, naming the folder.
    let other = quickstart(&out, &["--finetune-epochs", "2"]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("other settings"), "{err}");

    let _ = std::fs::remove_dir_all(&dir);
}

//! Pretraining end to end on a small real store: 40 Materials Project materials with their
//! phonon DOS (fixtures/dos/phonondos_mp_first40.csv.gz, Petretto et al. 2018).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use multimat_dataset::{build_graph_cache, make_split, save_split, GraphKind, Store};
use multimat_import::{import, ImportOptions, Recipe};
use multimat_model::{Modality, Preset};
use multimat_train::{load_run, pretrain, DeviceSpec, Event, PretrainConfig, PretrainJob};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("multimat-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The store is built once per test binary (import + PotNet graph cache).
fn store_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempdir("store");
        let csv = repo().join("fixtures/dos/phonondos_mp_first40.csv.gz");
        let recipe = format!(
            "[[table]]\npath = {:?}\nsource = \"mp\"\nid = \"mp_id\"\nstructure = \"structure\"\nphonon_dos = {{ frequencies = \"phfreq\", densities = \"phdos\", unit = \"cm-1\" }}\n",
            csv.display().to_string()
        );
        let recipe = Recipe::parse(&recipe, &dir, "test recipe").unwrap();
        let out = dir.join("store");
        import(&out, &[], Some(&recipe), &ImportOptions::default(), &|_| {}).unwrap();
        let store = Store::open(&out).unwrap();
        assert_eq!(store.len(), 40);
        build_graph_cache(&store, GraphKind::Potnet, &|_| {}).unwrap();
        // The run's split, made here once so that the tests running in parallel never race to
        // create it.
        let split = make_split(&store, 7, [0.8, 0.1, 0.1], "multimat").unwrap();
        save_split(&store, &split).unwrap();
        out
    })
}

fn config() -> PretrainConfig {
    PretrainConfig {
        modalities: vec![Modality::Crystal, Modality::PhononDos],
        loss: "clip".parse().unwrap(),
        preset: Preset::Small,
        batch_size: 8,
        epochs: 3,
        warmup_epochs: 1.0,
        lr: 0.02,
        seed: 7,
        keep_every: 0,
        ..Default::default()
    }
}

/// burn seeds and draws initial weights from one RNG per device, shared by the whole process:
/// jobs running at once (the tests of this file run on parallel threads) would interleave their
/// draws, and loading a model draws too (it is initialised, then overwritten). Each test holds
/// this lock from start to end.
static JOBS: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    JOBS.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(out: &Path, config: PretrainConfig, resume: bool, stop_after: Option<usize>) -> Vec<f64> {
    let store = Store::open(store_dir()).unwrap();
    let job = PretrainJob {
        store: &store,
        store_name: "test".into(),
        config,
        out: out.to_path_buf(),
        resume,
        stop_after,
        device: DeviceSpec::Cpu,
        threads: 0,
    };
    let mut steps = Vec::new();
    pretrain(job, &mut |e| {
        if let Event::Step { loss, .. } = e {
            steps.push(loss)
        }
    })
    .unwrap();
    steps
}

#[test]
fn same_seed_same_losses_and_resume_continues_exactly() {
    let _serial = one_at_a_time();
    let base = tempdir("det");
    let a = run(&base.join("a"), config(), false, None);
    let b = run(&base.join("b"), config(), false, None);
    assert_eq!(
        a.len(),
        12,
        "32 training materials / batch 8 = 4 steps × 3 epochs"
    );
    assert_eq!(a, b, "same seed, same losses");

    let c1 = run(&base.join("c"), config(), false, Some(1));
    assert_eq!(c1.len(), 4);
    let c2 = run(&base.join("c"), PretrainConfig::default(), true, None);
    let c: Vec<f64> = c1.into_iter().chain(c2).collect();
    assert_eq!(a, c, "an interrupted and resumed run gives the same losses");
    // A run killed before its first checkpoint (its config.json written, no checkpoint yet)
    // continues with the same command and --resume: from epoch 1, as a fresh run.
    let d0 = run(&base.join("d"), config(), false, Some(0));
    assert!(d0.is_empty());
    let d = run(&base.join("d"), PretrainConfig::default(), true, None);
    assert_eq!(
        a, d,
        "a run resumed before its first checkpoint starts over exactly"
    );

    // The metrics log has one epoch line per epoch, and the interrupted run's reads the same.
    let epochs = |dir: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["event"] == "epoch")
            .collect()
    };
    let (ea, ec) = (epochs(&base.join("a")), epochs(&base.join("c")));
    assert_eq!(ea.len(), 3);
    assert_eq!(ec.len(), 3);
    for (x, y) in ea.iter().zip(&ec) {
        assert_eq!(x["train_loss"], y["train_loss"]);
        assert_eq!(x["val_loss"], y["val_loss"]);
    }
    // The loss falls on the training set.
    let (first, last) = (
        ea[0]["train_loss"].as_f64().unwrap(),
        ea[2]["train_loss"].as_f64().unwrap(),
    );
    eprintln!("train loss {first} → {last}");
    assert!(last < first, "train loss {first} → {last}");

    // The saved weights load for inference and embed deterministically.
    let loaded = load_run(&base.join("a"), &burn::tensor::Device::flex()).unwrap();
    assert_eq!(loaded.epochs, 3);
    assert_eq!(loaded.config.model.latent_dim, 32);
}

#[test]
fn refuses_to_overwrite_or_resume_nothing() {
    let _serial = one_at_a_time();
    let base = tempdir("refuse");
    let store = Store::open(store_dir()).unwrap();
    let out = base.join("run");
    std::fs::create_dir_all(&out).unwrap();
    let job = |resume| PretrainJob {
        store: &store,
        store_name: "test".into(),
        config: config(),
        out: out.clone(),
        resume,
        stop_after: Some(0),
        device: DeviceSpec::Cpu,
        threads: 0,
    };
    // Resuming a folder that is not a run.
    let e = pretrain(job(true), &mut |_| {}).err().unwrap().to_string();
    assert!(e.contains("config.json"), "{e}");
    // A run that stopped before its first checkpoint is not overwritten by a fresh start; it
    // is continued (from its first epoch) with --resume.
    pretrain(job(false), &mut |_| {}).unwrap();
    pretrain(job(true), &mut |_| {}).unwrap();
    let e = pretrain(job(false), &mut |_| {}).err().unwrap().to_string();
    assert!(e.contains("--resume"), "{e}");
    // Modalities the store lacks are named.
    let mut c = config();
    c.modalities = vec![Modality::Crystal, Modality::Text];
    let e = pretrain(
        PretrainJob {
            config: c,
            out: base.join("text"),
            ..job(false)
        },
        &mut |_| {},
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("`text`") && e.contains("phonon_dos"), "{e}");
}

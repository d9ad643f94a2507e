//! Fine-tuning end to end on a small real store: 60 Materials Project materials with their
//! elastic tensors and Voigt moduli (fixtures/finetune/trachote_60.json.gz, made by
//! tools/fixtures/finetune_make_fixtures.py, which also computed expected.json in Python).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use burn::tensor::Device;
use multimat_crystal::io::{read_structure, ReadOptions};
use multimat_dataset::{build_graph_cache, load_split, GraphKind, Store};
use multimat_import::{import, ImportOptions, Recipe};
use multimat_model::{CrystalKind, Modality, Preset};
use multimat_train::finetune::{
    finetune, load_finetuned, mae, mse, predict_indices, BestState, Event, FinetuneConfig,
    FinetuneJob, FinetuneResults, MeanStd, TargetTransform, TestPredictions, Variant,
};
use multimat_train::predict::{resolve_model_dir, Predictor};
use multimat_train::{pretrain, DeviceSpec, PretrainConfig, PretrainJob};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    repo().join("fixtures/finetune").join(name)
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("multimat-finetune-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

/// The store is built once per test binary (import with derived densities + PotNet graphs).
fn store_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempdir("store");
        let recipe = format!(
            "[options]\nderive_density = true\n[[table]]\npath = {:?}\nsource = \"mp\"\nid = \"material_id\"\nstructure = \"cif\"\nelastic_tensor = \"elasticity.elastic_tensor\"\nlabels = {{ bulk_modulus_voigt = \"elasticity.K_Voigt\", shear_modulus_voigt = \"elasticity.G_Voigt\" }}\n",
            fixture("trachote_60.json.gz").display().to_string()
        );
        let recipe = Recipe::parse(&recipe, &dir, "test recipe").unwrap();
        let out = dir.join("store");
        import(&out, &[], Some(&recipe), &ImportOptions::default(), &|_| {}).unwrap();
        let store = Store::open(&out).unwrap();
        assert_eq!(store.len(), 60);
        build_graph_cache(&store, GraphKind::Potnet, &|_| {}).unwrap();
        out
    })
}

/// A one-epoch pretraining run (crystal ↔ derived density) to fine-tune from.
/// burn seeds and draws initial weights from one RNG per device, shared by the whole process:
/// jobs running at once (the tests of this file run on parallel threads) would interleave their
/// draws, and loading a model draws too (it is initialised, then overwritten). Each test holds
/// this lock from start to end.
static JOBS: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    JOBS.lock().unwrap_or_else(|e| e.into_inner())
}

fn pretrained_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let store = Store::open(store_dir()).unwrap();
        let out = tempdir("pretrain").join("run");
        let config = PretrainConfig {
            modalities: vec![Modality::Crystal, Modality::Density],
            loss: "clip".parse().unwrap(),
            preset: Preset::Small,
            batch_size: 8,
            epochs: 1,
            lr: 0.01,
            max_train: 16,
            max_val: 4,
            keep_every: 0,
            split: "pretrain-test".into(),
            ..Default::default()
        };
        pretrain(
            PretrainJob {
                store: &store,
                store_name: "test".into(),
                config,
                out: out.clone(),
                resume: false,
                stop_after: None,
                device: DeviceSpec::Cpu,
                threads: 0,
            },
            &mut |_| {},
        )
        .unwrap();
        out
    })
}

fn config(task: &str, split: &str, epochs: usize) -> FinetuneConfig {
    FinetuneConfig {
        task: task.into(),
        preset: Preset::Small,
        batch_size: 8,
        epochs,
        warmup_epochs: 1.0,
        lr: 2e-3,
        split: Some(split.into()),
        ..Default::default()
    }
}

fn run(
    config: FinetuneConfig,
    from: Option<&Path>,
    variants: Vec<Variant>,
    out: &Path,
) -> multimat_train::Result<FinetuneResults> {
    let store = Store::open(store_dir()).unwrap();
    finetune(
        FinetuneJob {
            store: &store,
            store_name: "test".into(),
            config,
            from: from.map(Path::to_path_buf),
            variants,
            out: out.to_path_buf(),
            device: DeviceSpec::Cpu,
            threads: 0,
        },
        &mut |_| {},
    )
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn scratch_run_selects_the_best_epoch_tests_it_and_predicts_a_cif_alike() {
    let _serial = one_at_a_time();
    let base = tempdir("scratch");
    let out = base.join("ft");
    let mut reported = Vec::new();
    let store = Store::open(store_dir()).unwrap();
    let r = finetune(
        FinetuneJob {
            store: &store,
            store_name: "test".into(),
            config: config("bulk_modulus_voigt", "t-scratch", 3),
            from: None,
            variants: vec![Variant::Scratch],
            out: out.clone(),
            device: DeviceSpec::Cpu,
            threads: 0,
        },
        &mut |e| {
            if let Event::Prepared { reused, .. } = e {
                reported.push(reused)
            }
        },
    )
    .unwrap();
    assert_eq!(reported, vec![false], "a new split is made");

    // The split is the documented algorithm over the labelled materials (Python's answer).
    let exp = expected();
    let split = load_split(&store, "t-scratch").unwrap();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(split.train, ids(&exp["split_bulk_modulus_voigt"]["train"]));
    assert_eq!(split.val, ids(&exp["split_bulk_modulus_voigt"]["val"]));
    assert_eq!(split.test, ids(&exp["split_bulk_modulus_voigt"]["test"]));
    assert_eq!((r.sizes.train, r.sizes.val, r.sizes.test), (42, 12, 6));
    assert_eq!(r.units, "GPa");
    assert_eq!(r.target_transform, TargetTransform::None);

    // The best checkpoint is the epoch with the lowest validation MAE, and it is what was tested.
    let v = &r.variants[0];
    assert_eq!(v.variant, Variant::Scratch);
    let dir = &v.runs[0].dir;
    let epochs: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(epochs.len(), 3);
    let val_mae: Vec<f64> = epochs
        .iter()
        .map(|e| e["val"]["mae_transformed"].as_f64().unwrap())
        .collect();
    let argmin = (0..3)
        .min_by(|&a, &b| val_mae[a].total_cmp(&val_mae[b]))
        .unwrap()
        + 1;
    assert_eq!(
        v.runs[0].best_epoch, argmin,
        "val MAE per epoch {val_mae:?}"
    );
    let state: BestState = read(&dir.join("best/state.json"));
    assert_eq!(state.epoch, argmin);
    assert_eq!(state.val_mae_transformed, val_mae[argmin - 1]);

    // Test metrics are the MAE/MSE over the saved test predictions, which the best weights give.
    let tp: TestPredictions = read(&dir.join("test_predictions.json"));
    assert_eq!(tp.ids, split.test);
    assert_eq!(
        r.variants[0].runs[0].test.mae,
        mae(&tp.predictions, &tp.targets)
    );
    assert_eq!(
        r.variants[0].runs[0].test.mse,
        mse(&tp.predictions, &tp.targets)
    );
    let (_, best) = load_finetuned(dir, &Device::flex()).unwrap();
    let graphs = multimat_train::data::CrystalGraphs::load(&store, CrystalKind::Potnet).unwrap();
    let idx: Vec<usize> = tp
        .ids
        .iter()
        .map(|id| store.index_of(id).unwrap())
        .collect();
    let again = predict_indices(
        &best,
        &graphs,
        &idx,
        TargetTransform::None,
        8,
        &Device::flex(),
    )
    .unwrap();
    for (a, b) in again.iter().zip(&tp.predictions) {
        assert!(close(*a, *b, 1e-5), "{a} vs {b}");
    }

    // The probe's target is its K_Voigt, and `predict` on its CIF gives the test-time value.
    let probe = exp["probe"].as_str().unwrap();
    let k = tp.ids.iter().position(|id| id == probe).unwrap();
    assert_eq!(
        tp.targets[k],
        exp["probe_bulk_modulus_voigt"].as_f64().unwrap()
    );
    let model_dir = resolve_model_dir(&out, None, None).unwrap();
    assert_eq!(&model_dir, dir);
    let predictor = Predictor::load(&model_dir, &Device::flex()).unwrap();
    let cif = fixture(&format!("{probe}.cif"));
    let s = read_structure(&cif, &ReadOptions::default()).unwrap();
    let p = predictor
        .predict(&[(cif.display().to_string(), s.clone())], 4)
        .unwrap();
    assert_eq!(p.len(), 1);
    assert!(
        close(p[0][0], tp.predictions[k], 1e-4),
        "predict {} vs test-time {}",
        p[0][0],
        tp.predictions[k]
    );
    // One structure without a graph (no sites) costs only its own row, in the same batch as
    // good ones, whose values are those of a batch without it.
    let mut bad = s.clone();
    bad.sites.clear();
    let each = predictor.predict_each(
        &[
            ("good-1".into(), s.clone()),
            ("empty".into(), bad),
            ("good-2".into(), s),
        ],
        4,
    );
    assert_eq!(each.len(), 3);
    let err = each[1].as_ref().unwrap_err();
    assert!(err.contains("empty"), "{err}");
    for good in [&each[0], &each[2]] {
        let v = good.as_ref().unwrap();
        assert!(close(v[0], p[0][0], 1e-5), "{} vs {}", v[0], p[0][0]);
    }

    // The results files exist; a second job reuses the split file unchanged.
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("| from scratch | PotNet |"), "{md}");
    let before = std::fs::read_to_string(store.dir().join("splits/t-scratch.json")).unwrap();
    let mut reused = Vec::new();
    finetune(
        FinetuneJob {
            store: &store,
            store_name: "test".into(),
            config: config("bulk_modulus_voigt", "t-scratch", 1),
            from: None,
            variants: vec![Variant::Scratch],
            out: base.join("ft2"),
            device: DeviceSpec::Cpu,
            threads: 0,
        },
        &mut |e| {
            if let Event::Prepared { reused: r, .. } = e {
                reused.push(r)
            }
        },
    )
    .unwrap();
    assert_eq!(reused, vec![true]);
    assert_eq!(
        std::fs::read_to_string(store.dir().join("splits/t-scratch.json")).unwrap(),
        before
    );
    let second: FinetuneResults = read(&base.join("ft2/results.json"));
    assert!(second.split_reused);
    assert_eq!(second.sizes, r.sizes);

    // The same folder is not overwritten.
    let e = run(
        config("bulk_modulus_voigt", "t-scratch", 1),
        None,
        vec![Variant::Scratch],
        &out,
    )
    .unwrap_err();
    assert!(e.to_string().contains("already holds"), "{e}");
}

#[test]
fn compare_runs_pretrained_scratch_and_cgcnn_on_one_split_and_seeds() {
    let _serial = one_at_a_time();
    let out = tempdir("compare").join("ft");
    let mut c = config("elastic_tensor", "t-compare", 1);
    c.seeds = 2;
    let r = run(
        c,
        Some(pretrained_run()),
        vec![Variant::Pretrained, Variant::Scratch, Variant::Cgcnn],
        &out,
    )
    .unwrap();
    assert_eq!(r.outputs, 15);
    assert_eq!(r.seeds, vec![42, 43]);
    let names: Vec<Variant> = r.variants.iter().map(|v| v.variant).collect();
    assert_eq!(
        names,
        vec![Variant::Pretrained, Variant::Scratch, Variant::Cgcnn]
    );
    assert_eq!(
        r.variants[0].parameters, r.variants[1].parameters,
        "pretrained and scratch are one network"
    );
    assert_ne!(r.variants[1].parameters, r.variants[2].parameters);
    for v in &r.variants {
        assert_eq!(v.runs.len(), 2);
        let maes: Vec<f64> = v.runs.iter().map(|x| x.test.mae).collect();
        assert_eq!(v.test_mae, MeanStd::of(&maes));
        let tp: TestPredictions = read(&v.runs[0].dir.join("test_predictions.json"));
        assert_eq!(tp.outputs, 15);
        assert_eq!(tp.predictions.len(), 15 * tp.ids.len());
        // MAE over all samples and all 15 components.
        assert_eq!(v.runs[0].test.mae, mae(&tp.predictions, &tp.targets));
    }
    // Every variant was tested on the same materials; the probe's targets are its tensor.
    let tp: TestPredictions = read(&r.variants[2].runs[1].dir.join("test_predictions.json"));
    let tp0: TestPredictions = read(&r.variants[0].runs[0].dir.join("test_predictions.json"));
    assert_eq!(tp.ids, tp0.ids);
    let exp = expected();
    let k = tp
        .ids
        .iter()
        .position(|id| id == exp["probe"].as_str().unwrap())
        .unwrap();
    let want: Vec<f64> = exp["probe_elastic_tensor_15"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(&tp.targets[15 * k..15 * (k + 1)], want.as_slice());
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    for row in [
        "| MultiMat pretrained | PotNet |",
        "| from scratch | PotNet |",
        "| CGCNN | CGCNN |",
    ] {
        assert!(md.contains(row), "{row} missing from\n{md}");
    }
    // predict picks a variant and seed of the job.
    let d = resolve_model_dir(&out, Some(Variant::Cgcnn), Some(43)).unwrap();
    assert!(d.ends_with("cgcnn/seed-43"), "{}", d.display());
    let e = resolve_model_dir(&out, Some(Variant::Cgcnn), Some(7))
        .unwrap_err()
        .to_string();
    assert!(e.contains("seed 7"), "{e}");
}

#[test]
fn log10_excludes_non_positive_targets_and_reports_both_units() {
    let _serial = one_at_a_time();
    let out = tempdir("log10").join("ft");
    let mut c = config("shear_modulus_voigt", "t-log10", 1);
    c.target_transform = TargetTransform::Log10;
    let r = run(c, None, vec![Variant::Scratch], &out).unwrap();
    let exp = expected();
    let excluded = exp["nonpositive_shear_modulus_voigt"].as_u64().unwrap() as usize;
    assert_eq!(r.excluded_nonpositive, excluded);
    assert_eq!(r.sizes.train + r.sizes.val + r.sizes.test, 60 - excluded);
    assert_eq!(r.target_transform, TargetTransform::Log10);
    let run0 = &r.variants[0].runs[0];
    let tp: TestPredictions = read(&run0.dir.join("test_predictions.json"));
    assert!(
        tp.predictions.iter().all(|&p| p > 0.0),
        "inverse of log10 is positive"
    );
    assert!(tp.targets.iter().all(|&t| t > 0.0));
    assert_eq!(run0.test.mae, mae(&tp.predictions, &tp.targets));
    let lp: Vec<f64> = tp.predictions.iter().map(|p| p.log10()).collect();
    let lt: Vec<f64> = tp.targets.iter().map(|t| t.log10()).collect();
    assert!(close(run0.test.mae_transformed, mae(&lp, &lt), 1e-12));
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(
        md.contains("test MAE (log10)") && md.contains("non-positive"),
        "{md}"
    );
    // The model folder records the transform, and predict undoes it.
    let (mc, _) = load_finetuned(&run0.dir, &Device::flex()).unwrap();
    assert_eq!(mc.target_transform, TargetTransform::Log10);
}

#[test]
fn bad_task_missing_run_and_bad_combinations_are_named() {
    let _serial = one_at_a_time();
    let base = tempdir("bad");
    let e = run(
        config("bulk_modulus_typo", "t-bad", 1),
        None,
        vec![Variant::Scratch],
        &base.join("a"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("bulk_modulus_typo")
            && e.contains("bulk_modulus_voigt")
            && e.contains("elastic_tensor"),
        "{e}"
    );
    let e = run(
        config("band_gap", "t-bad", 1),
        None,
        vec![Variant::Scratch],
        &base.join("a"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("`band_gap`") && e.contains("shear_modulus_voigt"),
        "{e}"
    );
    let e = run(
        config("bulk_modulus_voigt", "t-bad", 1),
        Some(&base.join("no-such-run")),
        vec![Variant::Pretrained],
        &base.join("a"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no-such-run") && e.contains("config.json"),
        "{e}"
    );
    let e = run(
        config("bulk_modulus_voigt", "t-bad", 1),
        None,
        vec![Variant::Pretrained],
        &base.join("a"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--from"), "{e}");
    let mut c = config("elastic_tensor", "t-bad", 1);
    c.target_transform = TargetTransform::Log10;
    let e = run(c, None, vec![Variant::Scratch], &base.join("a"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("log10"), "{e}");
    assert!(!base.join("a").exists(), "failed jobs leave nothing behind");
    let e = resolve_model_dir(&base, None, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a fine-tuned model"), "{e}");
}

/// Nothing a run saves pins the device: `config.json` of a pretraining run and of a fine-tuning
/// job hold no `device` or `threads`, an old run folder that still records a device (here one
/// this build cannot use) resumes on the device and threads its job gives, and the run then
/// fine-tunes with yet other job settings.
#[test]
fn device_and_threads_come_from_the_job_not_the_run() {
    let _serial = one_at_a_time();
    let store = Store::open(store_dir()).unwrap();
    let base = tempdir("device");
    let out = base.join("run");
    let pretrain_config = PretrainConfig {
        modalities: vec![Modality::Crystal, Modality::Density],
        loss: "clip".parse().unwrap(),
        preset: Preset::Small,
        batch_size: 8,
        epochs: 2,
        lr: 0.01,
        max_train: 16,
        max_val: 4,
        keep_every: 0,
        split: "pretrain-test".into(),
        ..Default::default()
    };
    let job = |device, threads, resume, stop_after| PretrainJob {
        store: &store,
        store_name: "test".into(),
        config: pretrain_config.clone(),
        out: out.clone(),
        resume,
        stop_after,
        device,
        threads,
    };
    pretrain(job(DeviceSpec::Cpu, 0, false, Some(1)), &mut |_| {}).unwrap();
    let config_path = out.join("config.json");
    let mut saved: serde_json::Value = read(&config_path);
    for key in ["device", "threads"] {
        assert!(
            saved["pretrain"].get(key).is_none(),
            "config.json saves `{key}`"
        );
    }

    // A folder written before device and threads were job settings: it names a GPU.
    saved["pretrain"]["device"] = "cuda:3".into();
    saved["pretrain"]["threads"] = 1.into();
    std::fs::write(&config_path, serde_json::to_string_pretty(&saved).unwrap()).unwrap();
    multimat_train::RunConfig::read(&out).unwrap();

    // The job's device is the one used: a GPU the build lacks is refused before anything is
    // written (a GPU build simply has no epoch left to run before epoch 1).
    match pretrain(job(DeviceSpec::Cuda(0), 0, true, Some(1)), &mut |_| {}) {
        Ok(s) => assert_eq!(s.epochs_completed, 1),
        Err(e) => assert!(e.to_string().contains("cuda"), "{e}"),
    }
    // Resumed on the CPU with other threads, whatever the old file says.
    let resumed = pretrain(job(DeviceSpec::Cpu, 2, true, None), &mut |_| {}).unwrap();
    assert_eq!(resumed.epochs_completed, 2);
    assert_eq!(resumed.epochs.len(), 1);

    // Fine-tuned from that run with the job's device and threads; its record saves neither.
    let ft = base.join("ft");
    let store = Store::open(store_dir()).unwrap();
    let results = finetune(
        FinetuneJob {
            store: &store,
            store_name: "test".into(),
            config: config("bulk_modulus_voigt", "t-device", 1),
            from: Some(out.clone()),
            variants: vec![Variant::Pretrained],
            out: ft.clone(),
            device: DeviceSpec::Cpu,
            threads: 1,
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(results.variants.len(), 1);
    let record: serde_json::Value = read(&ft.join("config.json"));
    for key in ["device", "threads"] {
        assert!(
            record["config"].get(key).is_none(),
            "job config.json saves `{key}`"
        );
    }
}

/// Cosine similarity of two rows.
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64) * (*y as f64))
        .sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn a_model_folder_packs_the_run_and_heads_in_f16_and_embeds_and_predicts_like_them() {
    use multimat_train::package::{self, ExportSpec, PackageInfo, WeightsDtype};
    use multimat_train::{Part, Session};
    let _serial = one_at_a_time();
    let dir = tempdir("package");
    let ft = dir.join("ft");
    run(
        config("bulk_modulus_voigt", "t-package", 1),
        Some(pretrained_run()),
        vec![Variant::Pretrained],
        &ft,
    )
    .unwrap();
    let head = resolve_model_dir(&ft, None, None).unwrap();
    let card = "# test-model: a one-epoch test model\n\nNot for use.\n";
    let spec = |dtype| ExportSpec {
        run: pretrained_run().to_path_buf(),
        heads: vec![head.clone()],
        name: "test-model".into(),
        summary: "a one-epoch test model".into(),
        card: card.into(),
        dtype,
        store: Some(store_dir().to_path_buf()),
    };
    let device = Device::flex();
    let out16 = dir.join("m16");
    let info = package::export(&spec(WeightsDtype::F16), &out16, &device).unwrap();
    assert_eq!(info.heads.len(), 1);
    assert_eq!(info.heads[0].task, "bulk_modulus_voigt");
    assert_eq!(info.heads[0].units, "GPa");
    assert_eq!(PackageInfo::read(&out16).unwrap(), info);
    assert!(out16.join("split.json").exists() && out16.join("card.md").exists());
    // f16 weights are smaller than the run's f32 ones.
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let run_weights = pretrained_run().join("checkpoint/model.safetensors");
    assert!(size(&out16.join("model.safetensors")) < size(&run_weights) * 6 / 10);

    // Embeddings by the f16 folder stay within 1e-3 cosine of the f32 run's.
    let a = Session::open(pretrained_run(), store_dir(), Part::All, 16, device.clone())
        .unwrap()
        .embed(Modality::Crystal, &mut |_, _| {})
        .unwrap();
    let b = Session::open(&out16, store_dir(), Part::All, 16, device.clone())
        .unwrap()
        .embed(Modality::Crystal, &mut |_, _| {})
        .unwrap();
    assert_eq!(a.ids, b.ids);
    let d = a.dim;
    let worst = (0..a.ids.len())
        .map(|i| cosine(&a.values[i * d..(i + 1) * d], &b.values[i * d..(i + 1) * d]))
        .fold(1.0, f64::min);
    assert!(worst > 1.0 - 1e-3, "worst cosine {worst}");
    // The candidates are every material's crystal embedding, with formulas beside them.
    let cands = multimat_eval::Embeddings::read(&out16.join(package::CANDIDATES_FILE)).unwrap();
    assert_eq!(cands.ids, b.ids);
    let info_rows = package::CandidateInfo::read_beside(&out16.join(package::CANDIDATES_FILE));
    assert_eq!(info_rows.len(), 60);

    // The head predicts like the fine-tuned run it came from (f16 weights: within 1 %).
    let cif = fixture("mp-867917.cif");
    let s = read_structure(&cif, &ReadOptions::default()).unwrap();
    let one = vec![("mp-867917.cif".to_string(), s)];
    let p32 = Predictor::load(&head, &device)
        .unwrap()
        .predict(&one, 1)
        .unwrap();
    let h = package::head_dir(&out16, "bulk_modulus_voigt").unwrap();
    let p16 = Predictor::load(&h, &device)
        .unwrap()
        .predict(&one, 1)
        .unwrap();
    assert!(close(p32[0][0], p16[0][0], 0.01), "{p32:?} vs {p16:?}");
    let e = package::head_dir(&out16, "band_gap")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has no `band_gap` head") && e.contains("bulk_modulus_voigt"),
        "{e}"
    );

    // A folder that is not empty and not a model folder is refused.
    let e = package::export(&spec(WeightsDtype::F32), &ft, &device)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a model folder"), "{e}");
    // Given a folder, resolve_model uses it as is.
    assert_eq!(package::resolve_model(Some(&out16)).unwrap(), out16);
}

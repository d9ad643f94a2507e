//! Losses against values computed independently in numpy (float64) by
//! tools/fixtures/losses_expected.py; the inputs below are the same as there.

use burn::tensor::{Device, Tensor, TensorData};
use multimat_model::loss::{
    all_pairs_clip, anchored_clip, anchored_clip_sum, barlow_twins, barlow_twins_3way,
    barlow_twins_4way_half, barlow_twins_anchored, clip_pair, contrastive_loss,
    contrastive_loss_with, info_nce, masked_clip_pair, tensor_clip, BarlowConfig, BarlowTarget,
    LearnableTemperatureConfig, LossError, LossKind, LossOptions, ModalityBatch, Temperature,
};

// ---- expected values printed by tools/fixtures/losses_expected.py ----
const CLIP_PAIR_SUM: f64 = 5.282417730032452;
const CLIP_PAIR_MEAN: f64 = 2.641208865016226;
const CLIP_PAIR_SUM_TAU_0_5: f64 = 3.075070027126311;
const ANCHORED_MASKED_A: f64 = 0.3130205381734008;
const ALL_PAIRS_MASKED_A: f64 = 0.2086803587822672;
const ANCHORED_MASKED_B: f64 = 0.3130205381734008;
const ALL_PAIRS_MASKED_B: f64 = 0.2086803587822672;
const ANCHORED_MASKED_ALL: f64 = 1.8030241953566144;
const ALL_PAIRS_MASKED_ALL: f64 = 2.7158205519020204;
const ANCHORED_CLI: f64 = 7.212096781426458;
const CLIP_CRY_DOS_MASKED: f64 = 0.1895296447077242;
const TENSOR_CLIP: f64 = -0.22283576210335043;
const TENSOR_CLIP_MASKED: f64 = -5.323291686011791;
const TENSOR_CLIP_B4: f64 = 33.694389611547294;
const TENSOR_CLIP_B4_MASKED: f64 = 15.31610177601545;
const BARLOW2: f64 = 1.423611955;
const BARLOW2_STANDARDIZED: f64 = 0.040642724658412406;
const BARLOW_ANCHORED_3MOD: f64 = 4.0487747675;
const BARLOW3_FULL: f64 = 2.5367863408125;
const BARLOW3_HALF: f64 = 7.1155332604625;
const BARLOW4_HALF: f64 = 12.009816673333333;
const TENSOR_CLIP_B4_MASKED_TAU_0_01: f64 = 227.56712465952273;
const ANCHORED_MASKED_A_TAU_0_01: f64 = 5.149330579903921;

// ---- inputs (same as the generator) ----
const A: [[f32; 2]; 3] = [[1.0, 0.0], [0.6, 0.8], [-1.0, 2.0]];
const C: [[f32; 2]; 3] = [[0.8, 0.6], [0.0, 1.0], [3.0, 1.0]];
const CRY: [[f32; 3]; 4] = [
    [1.0, 0.2, -0.3],
    [0.1, 1.0, 0.4],
    [-0.5, 0.3, 1.0],
    [0.7, -0.6, 0.2],
];
const DOS: [[f32; 3]; 4] = [
    [0.9, 0.1, -0.2],
    [0.3, 0.8, 0.1],
    [-0.2, -0.4, 0.9],
    [0.5, -0.9, 0.6],
];
const CHG: [[f32; 3]; 4] = [
    [0.2, 0.1, 0.9],
    [1.0, -0.1, 0.0],
    [-0.3, 0.5, 0.7],
    [0.4, 0.4, -0.8],
];
const TXT: [[f32; 3]; 4] = [
    [-0.7, 0.7, 0.1],
    [0.6, 0.2, -0.5],
    [0.0, 0.9, 0.3],
    [0.8, 0.1, 0.1],
];
const ALL: [bool; 4] = [true, true, true, true];
const E_DOS: [bool; 4] = [true, true, false, true];
const E_CHG: [bool; 4] = [true, false, true, false];
const E_TXT_ONE: [bool; 4] = [false, false, true, false];
const E_TXT_NONE: [bool; 4] = [false, false, false, false];

fn cpu() -> Device {
    Device::flex()
}

fn mat<const N: usize>(rows: &[[f32; N]], device: &Device) -> Tensor<2> {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), N]), device)
}

fn value(t: Tensor<1>) -> f64 {
    assert_eq!(t.dims(), [1], "a loss is a [1] tensor");
    f64::from(t.into_scalar::<f32>())
}

fn assert_close(got: f64, want: f64, what: &str) {
    let tol = 2e-5 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (tolerance {tol})"
    );
}

fn batch<const N: usize>(
    name: &str,
    rows: &[[f32; N]],
    exists: &[bool],
    device: &Device,
) -> ModalityBatch {
    ModalityBatch::new(name, mat(rows, device), exists.to_vec()).expect("mask length matches")
}

/// Crystal, DOS, charge density, text on the CPU with the given masks.
fn four(exists: [&[bool]; 4], device: &Device) -> Vec<ModalityBatch> {
    vec![
        batch("crystal", &CRY, exists[0], device),
        batch("dos", &DOS, exists[1], device),
        batch("charge_density", &CHG, exists[2], device),
        batch("text", &TXT, exists[3], device),
    ]
}

fn tau() -> Temperature {
    Temperature::reference()
}

#[test]
fn clip_pair_matches_numpy_on_3x2() {
    let dev = cpu();
    let sum = clip_pair(mat(&A, &dev), mat(&C, &dev), &tau()).unwrap();
    assert_close(value(sum), CLIP_PAIR_SUM, "clip_pair (CE + CEᵀ)");
    let mean = info_nce(mat(&A, &dev), mat(&C, &dev), &tau()).unwrap();
    assert_close(value(mean), CLIP_PAIR_MEAN, "info_nce (half)");
    let other = clip_pair(mat(&A, &dev), mat(&C, &dev), &Temperature::Fixed(0.5)).unwrap();
    assert_close(value(other), CLIP_PAIR_SUM_TAU_0_5, "clip_pair at tau 0.5");
}

#[test]
fn clip_pair_of_one_row_is_zero_and_of_zero_rows_is_zero() {
    let dev = cpu();
    let one = clip_pair(mat(&A[..1], &dev), mat(&C[..1], &dev), &tau()).unwrap();
    assert_eq!(value(one), 0.0);
    let e = ModalityBatch::new("dos", mat(&DOS, &dev), E_TXT_NONE.to_vec()).unwrap();
    let c = ModalityBatch::present("crystal", mat(&CRY, &dev));
    let (loss, rows) = masked_clip_pair(&c, &e, &tau()).unwrap();
    assert_eq!(rows, 0);
    assert_eq!(value(loss), 0.0);
}

#[test]
fn masked_clip_pair_removes_rows() {
    let dev = cpu();
    let c = ModalityBatch::present("crystal", mat(&CRY, &dev));
    let d = batch("dos", &DOS, &E_DOS, &dev);
    let (loss, rows) = masked_clip_pair(&c, &d, &tau()).unwrap();
    assert_eq!(rows, 3);
    assert_close(value(loss), CLIP_CRY_DOS_MASKED, "masked pair");
    let via_kind = contrastive_loss(LossKind::Clip, &[c, d], &tau()).unwrap();
    assert_close(value(via_kind), CLIP_CRY_DOS_MASKED, "clip via LossKind");
}

#[test]
fn masked_anchored_and_all_pairs_match_numpy() {
    let dev = cpu();
    // Scenario A: crystal–text has 1 surviving row, DOS–text 0, charge–text 1, DOS–charge 1.
    let a = four([&ALL, &E_DOS, &E_CHG, &E_TXT_ONE], &dev);
    assert_close(
        value(anchored_clip(&a, &tau()).unwrap()),
        ANCHORED_MASKED_A,
        "anchored A",
    );
    assert_close(
        value(all_pairs_clip(&a, &tau()).unwrap()),
        ALL_PAIRS_MASKED_A,
        "all pairs A",
    );
    // Scenario B: text is missing everywhere, so every text pair has 0 rows.
    let b = four([&ALL, &E_DOS, &E_CHG, &E_TXT_NONE], &dev);
    let anchored_b = value(anchored_clip(&b, &tau()).unwrap());
    let pairs_b = value(all_pairs_clip(&b, &tau()).unwrap());
    assert!(anchored_b.is_finite() && pairs_b.is_finite());
    assert_close(anchored_b, ANCHORED_MASKED_B, "anchored B");
    assert_close(pairs_b, ALL_PAIRS_MASKED_B, "all pairs B");
    // Everything present.
    let full = four([&ALL, &ALL, &ALL, &ALL], &dev);
    assert_close(
        value(anchored_clip(&full, &tau()).unwrap()),
        ANCHORED_MASKED_ALL,
        "anchored all",
    );
    assert_close(
        value(all_pairs_clip(&full, &tau()).unwrap()),
        ALL_PAIRS_MASKED_ALL,
        "all pairs all",
    );
    assert_close(
        value(anchored_clip_sum(&full, &tau()).unwrap()),
        ANCHORED_CLI,
        "anchored CLI",
    );
    // anchored_clip (CLI) = Σ pair/2 and tri_anchored = Σ pair/(2·4) on the same rows.
    assert_close(
        ANCHORED_CLI / 4.0,
        ANCHORED_MASKED_ALL,
        "CLI vs tri normalisation",
    );
}

#[test]
fn losses_of_a_crystal_only_batch_are_zero_not_nan() {
    let dev = Device::flex().autodiff();
    let inputs: Vec<Tensor<2>> = [&CRY, &DOS, &CHG, &TXT]
        .iter()
        .map(|rows| mat(*rows, &dev).require_grad())
        .collect();
    let names = ["crystal", "dos", "charge_density", "text"];
    let batches: Vec<ModalityBatch> = inputs
        .iter()
        .zip(names)
        .enumerate()
        .map(|(m, (x, n))| {
            let exists = if m == 0 { ALL } else { E_TXT_NONE };
            ModalityBatch::new(n, x.clone(), exists.to_vec()).unwrap()
        })
        .collect();
    for kind in [
        LossKind::TriAnchoredClip,
        LossKind::AllPairsClip,
        LossKind::AnchoredClip,
        LossKind::BarlowTwins,
        LossKind::QuadBarlow,
    ] {
        let loss = contrastive_loss(kind, &batches, &tau()).unwrap();
        assert_eq!(value(loss.clone()), 0.0, "{kind}");
        // The zero stays in the graph: backward works and every gradient is 0.
        let grads = loss.backward();
        for x in &inputs {
            if let Some(g) = x.grad(&grads) {
                let g: Vec<f32> = g.into_data().try_to_vec::<f32>().unwrap();
                assert!(g.iter().all(|v| *v == 0.0), "{kind}: gradient {g:?}");
            }
        }
    }
    let three = &batches[..3];
    let loss = tensor_clip(three, &tau()).unwrap();
    assert_eq!(value(loss.clone()), 0.0, "tensor_clip");
    let _ = loss.backward();
}

#[test]
fn dispatch_by_name_matches_direct_calls() {
    let dev = cpu();
    let a = four([&ALL, &E_DOS, &E_CHG, &E_TXT_ONE], &dev);
    let kind: LossKind = "tri_anchored_clip".parse().unwrap();
    assert_close(
        value(contrastive_loss(kind, &a, &tau()).unwrap()),
        ANCHORED_MASKED_A,
        "tri_anchored_clip",
    );
    for name in ["all_pairs_clip", "tri_all_pairs_clip"] {
        let kind: LossKind = name.parse().unwrap();
        assert_close(
            value(contrastive_loss(kind, &a, &tau()).unwrap()),
            ALL_PAIRS_MASKED_A,
            name,
        );
    }
    let full = four([&ALL, &ALL, &ALL, &ALL], &dev);
    let kind: LossKind = "anchored_clip".parse().unwrap();
    assert_close(
        value(contrastive_loss(kind, &full, &tau()).unwrap()),
        ANCHORED_CLI,
        "anchored_clip",
    );
    let three = &full[..3];
    let kind: LossKind = "tensor_clip".parse().unwrap();
    assert_close(
        value(contrastive_loss(kind, three, &tau()).unwrap()),
        TENSOR_CLIP_B4,
        "tensor_clip",
    );
    let kind: LossKind = "tri_barlow_twins_half".parse().unwrap();
    assert_close(
        value(contrastive_loss(kind, three, &tau()).unwrap()),
        BARLOW3_HALF,
        "tri BT half",
    );
    let kind: LossKind = "tri_barlow_twins".parse().unwrap();
    assert_close(
        value(contrastive_loss(kind, three, &tau()).unwrap()),
        BARLOW3_FULL,
        "tri BT",
    );
    let kind: LossKind = "quad_barlow".parse().unwrap();
    assert_close(
        value(contrastive_loss(kind, &full, &tau()).unwrap()),
        BARLOW4_HALF,
        "quad BT",
    );
    let kind: LossKind = "barlow_twins".parse().unwrap();
    assert_close(
        value(contrastive_loss(kind, three, &tau()).unwrap()),
        BARLOW_ANCHORED_3MOD,
        "BT anchored",
    );
}

#[test]
fn loss_kind_names_round_trip() {
    for name in LossKind::NAMES {
        let kind: LossKind = name.parse().unwrap();
        let canonical = kind.to_string();
        assert_eq!(canonical.parse::<LossKind>().unwrap(), kind);
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{canonical}\""));
        let back: LossKind = serde_json::from_str(&format!("\"{name}\"")).unwrap();
        assert_eq!(back, kind, "serde alias {name}");
    }
    assert_eq!(
        "tri_all_pairs_clip".parse::<LossKind>().unwrap(),
        LossKind::AllPairsClip
    );
    let err = "infonce".parse::<LossKind>().unwrap_err();
    assert!(matches!(err, LossError::UnknownLoss(ref s) if s == "infonce"));
    assert!(err.to_string().contains("tri_anchored_clip"));
}

#[test]
fn tensor_clip_matches_numpy_on_b3_with_and_without_masks() {
    let dev = cpu();
    let three = |e2: &[bool]| {
        vec![
            batch("crystal", &CRY[..3], &[true; 3], &dev),
            batch("dos", &DOS[..3], e2, &dev),
            batch("charge_density", &CHG[..3], &[true; 3], &dev),
        ]
    };
    let plain = value(tensor_clip(&three(&[true; 3]), &tau()).unwrap());
    assert_close(plain, TENSOR_CLIP, "tensor_clip B=3");
    // DOS row 1 missing: the reference gives NaN here (0·log 0); rows without negatives add 0.
    let masked = value(tensor_clip(&three(&[true, false, true]), &tau()).unwrap());
    assert_close(masked, TENSOR_CLIP_MASKED, "tensor_clip B=3 masked");
}

#[test]
fn tensor_clip_matches_numpy_on_b4() {
    let dev = cpu();
    let full = four([&ALL, &ALL, &ALL, &ALL], &dev);
    assert_close(
        value(tensor_clip(&full[..3], &tau()).unwrap()),
        TENSOR_CLIP_B4,
        "B=4",
    );
    let masked = vec![
        batch("crystal", &CRY, &ALL, &dev),
        batch("dos", &DOS, &E_DOS, &dev),
        batch("charge_density", &CHG, &[true, true, true, false], &dev),
    ];
    assert_close(
        value(tensor_clip(&masked, &tau()).unwrap()),
        TENSOR_CLIP_B4_MASKED,
        "B=4 masked",
    );
}

#[test]
fn small_temperature_stays_finite_and_exact() {
    // Logits reach 1/τ = 100, beyond f32's exp range (e^88.7): the log-sum-exps must shift.
    let dev = cpu();
    let t = Temperature::Fixed(0.01);
    let masked = vec![
        batch("crystal", &CRY, &ALL, &dev),
        batch("dos", &DOS, &E_DOS, &dev),
        batch("charge_density", &CHG, &[true, true, true, false], &dev),
    ];
    let tc = value(tensor_clip(&masked, &t).unwrap());
    assert_close(
        tc,
        TENSOR_CLIP_B4_MASKED_TAU_0_01,
        "tensor_clip at tau 0.01",
    );
    let a = four([&ALL, &E_DOS, &E_CHG, &E_TXT_ONE], &dev);
    let anchored = value(anchored_clip(&a, &t).unwrap());
    assert_close(anchored, ANCHORED_MASKED_A_TAU_0_01, "anchored at tau 0.01");
}

#[test]
fn tensor_clip_with_fewer_than_three_rows_is_zero() {
    let dev = cpu();
    let two = vec![
        batch("crystal", &CRY[..2], &[true; 2], &dev),
        batch("dos", &DOS[..2], &[true; 2], &dev),
        batch("charge_density", &CHG[..2], &[true; 2], &dev),
    ];
    assert_eq!(value(tensor_clip(&two, &tau()).unwrap()), 0.0);
}

#[test]
fn barlow_variants_match_numpy() {
    let dev = cpu();
    let cfg = BarlowConfig::default();
    assert_close(
        value(barlow_twins(mat(&CRY, &dev), mat(&DOS, &dev), &cfg).unwrap()),
        BARLOW2,
        "BT 2-way",
    );
    let std_cfg = BarlowConfig {
        standardize: true,
        ..BarlowConfig::default()
    };
    assert_close(
        value(barlow_twins(mat(&CRY, &dev), mat(&DOS, &dev), &std_cfg).unwrap()),
        BARLOW2_STANDARDIZED,
        "BT 2-way standardised",
    );
    let full = four([&ALL, &ALL, &ALL, &ALL], &dev);
    assert_close(
        value(barlow_twins_anchored(&full[..3], &cfg).unwrap()),
        BARLOW_ANCHORED_3MOD,
        "BT anchored",
    );
    assert_close(
        value(barlow_twins_3way(&full[..3], BarlowTarget::Diagonal, &cfg).unwrap()),
        BARLOW3_FULL,
        "BT 3-way",
    );
    assert_close(
        value(barlow_twins_3way(&full[..3], BarlowTarget::Half, &cfg).unwrap()),
        BARLOW3_HALF,
        "BT 3-way half",
    );
    assert_close(
        value(barlow_twins_4way_half(&full, &cfg).unwrap()),
        BARLOW4_HALF,
        "BT 4-way half",
    );
    let options = LossOptions {
        barlow: std_cfg,
        ..LossOptions::default()
    };
    let two = [
        ModalityBatch::present("dos", mat(&DOS, &dev)),
        ModalityBatch::present("crystal", mat(&CRY, &dev)),
    ];
    // Anchored BT of (dos, crystal) is BT(crystal, dos): C is transposed, the loss is not.
    let swapped = contrastive_loss_with(LossKind::BarlowTwins, &two, &options).unwrap();
    assert_close(value(swapped), BARLOW2_STANDARDIZED, "BT via options");
}

fn permute<const N: usize>(rows: &[[f32; N]; 4], perm: [usize; 4]) -> [[f32; N]; 4] {
    perm.map(|i| rows[i])
}

fn permute_mask(mask: &[bool; 4], perm: [usize; 4]) -> [bool; 4] {
    perm.map(|i| mask[i])
}

#[test]
fn permuting_the_batch_leaves_every_loss_unchanged() {
    let dev = cpu();
    let perm = [2, 0, 3, 1];
    let masks = [ALL, E_DOS, E_CHG, E_TXT_ONE];
    let tc_mask = [true, true, true, false];
    let original = four([&masks[0], &masks[1], &masks[2], &masks[3]], &dev);
    let pm: Vec<[bool; 4]> = masks.iter().map(|m| permute_mask(m, perm)).collect();
    let permuted = vec![
        batch("crystal", &permute(&CRY, perm), &pm[0], &dev),
        batch("dos", &permute(&DOS, perm), &pm[1], &dev),
        batch("charge_density", &permute(&CHG, perm), &pm[2], &dev),
        batch("text", &permute(&TXT, perm), &pm[3], &dev),
    ];
    for kind in [
        LossKind::TriAnchoredClip,
        LossKind::AllPairsClip,
        LossKind::AnchoredClip,
        LossKind::BarlowTwins,
        LossKind::QuadBarlow,
    ] {
        let x = value(contrastive_loss(kind, &original, &tau()).unwrap());
        let y = value(contrastive_loss(kind, &permuted, &tau()).unwrap());
        assert_close(y, x, kind.name());
    }
    let tc = |batches: &[ModalityBatch], mask: [bool; 4]| {
        let mut three = batches[..3].to_vec();
        three[2].exists = mask.to_vec();
        value(tensor_clip(&three, &tau()).unwrap())
    };
    let x = tc(&original, tc_mask);
    let y = tc(&permuted, permute_mask(&tc_mask, perm));
    assert_close(x, TENSOR_CLIP_B4_MASKED, "tensor_clip masked");
    assert_close(y, x, "tensor_clip permuted");
    for target in [BarlowTarget::Diagonal, BarlowTarget::Half] {
        let x = value(barlow_twins_3way(&original[..3], target, &BarlowConfig::default()).unwrap());
        let y = value(barlow_twins_3way(&permuted[..3], target, &BarlowConfig::default()).unwrap());
        assert_close(y, x, "3-way BT");
    }
}

/// Checks that every input receives a finite gradient that is not identically zero.
fn check_grads(kind: LossKind, exists: [&[bool]; 4], count: usize) {
    let dev = Device::flex().autodiff();
    let inputs: Vec<Tensor<2>> = [&CRY, &DOS, &CHG, &TXT][..count]
        .iter()
        .map(|rows| mat(*rows, &dev).require_grad())
        .collect();
    let names = ["crystal", "dos", "charge_density", "text"];
    let batches: Vec<ModalityBatch> = inputs
        .iter()
        .zip(names)
        .zip(exists)
        .map(|((x, n), e)| ModalityBatch::new(n, x.clone(), e.to_vec()).unwrap())
        .collect();
    let loss = contrastive_loss(kind, &batches, &tau()).unwrap();
    assert!(value(loss.clone()).is_finite(), "{kind}: finite loss");
    let grads = loss.backward();
    for (x, name) in inputs.iter().zip(names) {
        let g = x
            .grad(&grads)
            .unwrap_or_else(|| panic!("{kind}: no gradient for {name}"));
        let g: Vec<f32> = g.into_data().try_to_vec::<f32>().unwrap();
        assert!(
            g.iter().all(|v| v.is_finite()),
            "{kind}: {name} gradient finite"
        );
        assert!(
            g.iter().any(|v| *v != 0.0),
            "{kind}: {name} gradient reaches the input"
        );
    }
}

#[test]
fn gradients_are_finite_and_reach_every_input() {
    let masked: [&[bool]; 4] = [&ALL, &E_DOS, &E_CHG, &E_TXT_ONE];
    let full: [&[bool]; 4] = [&ALL, &ALL, &ALL, &ALL];
    // Text shares 3 rows with the crystal here, so every anchored pair carries a signal.
    check_grads(LossKind::TriAnchoredClip, [&ALL, &E_DOS, &E_CHG, &E_DOS], 4);
    check_grads(LossKind::AnchoredClip, full, 4);
    check_grads(LossKind::Clip, masked, 2);
    check_grads(LossKind::TensorClip, [&ALL, &E_DOS, &ALL, &ALL], 3);
    check_grads(LossKind::BarlowTwins, full, 4);
    check_grads(LossKind::TriBarlowTwins, full, 3);
    check_grads(LossKind::TriBarlowTwinsHalf, full, 3);
    check_grads(LossKind::QuadBarlow, full, 4);
    // In the masked all-pairs batch text only meets rows shared by one other modality (1-row
    // pairs have zero loss), so text gets no signal there; all present, every input does.
    check_grads(LossKind::AllPairsClip, full, 4);
}

#[test]
fn zero_embedding_rows_give_finite_gradients() {
    let dev = Device::flex().autodiff();
    let x = mat(&[[0.0f32, 0.0], [0.6, 0.8], [1.0, 1.0]], &dev).require_grad();
    let y = mat(&C, &dev).require_grad();
    let loss = clip_pair(x.clone(), y, &tau()).unwrap();
    assert!(value(loss.clone()).is_finite());
    let g: Vec<f32> = x
        .grad(&loss.backward())
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert!(g.iter().all(|v| v.is_finite()), "gradient {g:?}");
}

#[test]
fn learnable_temperature_starts_at_the_reference_and_learns() {
    let dev = Device::flex().autodiff();
    let module = LearnableTemperatureConfig::default().init(&dev).unwrap();
    assert_close(value(module.tau()), 0.2, "initial tau");
    let learnt = module.temperature();
    let loss = clip_pair(mat(&A, &dev), mat(&C, &dev), &learnt).unwrap();
    assert_close(value(loss.clone()), CLIP_PAIR_SUM, "learnable at tau 0.2");
    let grads = loss.backward();
    let g = module
        .log_scale
        .val()
        .grad(&grads)
        .expect("gradient reaches log(1/tau)");
    assert!(value(g).is_finite());

    let clamped = LearnableTemperatureConfig {
        tau_init: 0.5,
        tau_min: 0.5,
        tau_max: 1.0,
    }
    .init(&dev)
    .unwrap();
    assert_close(value(clamped.tau()), 0.5, "tau at the clamp");
    let bad = LearnableTemperatureConfig {
        tau_init: 0.05,
        tau_min: 0.1,
        tau_max: 1.0,
    }
    .init(&dev);
    assert!(matches!(bad, Err(LossError::TemperatureBounds { .. })));
}

#[test]
fn bad_inputs_are_errors_naming_the_modality() {
    let dev = cpu();
    let short = ModalityBatch::new("dos", mat(&DOS, &dev), vec![true; 3]);
    assert!(
        matches!(short, Err(LossError::MaskLength { ref modality, rows: 4, found: 3 }) if modality == "dos")
    );

    let mismatched = vec![
        ModalityBatch::present("crystal", mat(&CRY, &dev)),
        ModalityBatch::present("dos", mat(&DOS[..3], &dev)),
    ];
    let err = anchored_clip(&mismatched, &tau()).unwrap_err();
    assert!(
        matches!(err, LossError::BatchSize { ref modality, expected: 4, found: 3 } if modality == "dos")
    );

    let narrow = vec![
        ModalityBatch::present("crystal", mat(&CRY, &dev)),
        ModalityBatch::present("text", mat(&A, &dev)),
    ];
    assert!(all_pairs_clip(&narrow, &tau()).is_err());

    let full = four([&ALL, &ALL, &ALL, &ALL], &dev);
    assert!(matches!(
        tensor_clip(&full, &tau()),
        Err(LossError::ModalityCount { found: 4, .. })
    ));
    assert!(matches!(
        contrastive_loss(LossKind::Clip, &full, &tau()),
        Err(LossError::ModalityCount { found: 4, .. })
    ));
    assert!(matches!(
        anchored_clip(&full[..1], &tau()),
        Err(LossError::ModalityCount { found: 1, .. })
    ));
    for t in [0.0, -0.2, f64::NAN] {
        assert!(matches!(
            clip_pair(mat(&A, &dev), mat(&C, &dev), &Temperature::Fixed(t)),
            Err(LossError::Temperature(_))
        ));
    }
    let bad_lambda = BarlowConfig {
        lambda: -1.0,
        ..BarlowConfig::default()
    };
    assert!(matches!(
        barlow_twins(mat(&CRY, &dev), mat(&DOS, &dev), &bad_lambda),
        Err(LossError::Lambda(_))
    ));
}

//! Tests of the non-crystal encoders: DOS Transformer, 3-D ResNeXt charge-density encoder and
//! text MLP (spec §2.2–2.4).
//!
//! Expected DOS numbers come from an independent NumPy implementation
//! (`tools/fixtures/encoders_dos_tiny.py` → `fixtures/encoders/dos_tiny.json`). The `#[ignore]`d
//! `bench_*` tests time one forward+backward at the paper's sizes; run them with
//! `cargo test -p multimat-model --release --test modality_encoders -- --ignored --nocapture`.

use std::path::PathBuf;
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Distribution, Gradients, Tensor, TensorData};
use multimat_model::encoders::charge_density::{
    max_pool3d, BatchNorm3dConfig, ResNeXt3d, ResNeXt3dConfig,
};
use multimat_model::encoders::dos::{attention, DosTransformer, DosTransformerConfig};
use multimat_model::encoders::text::TextMlpConfig;
use multimat_model::error::EncoderError;
use multimat_model::trainable_params;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/encoders/dos_tiny.json");
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn array(v: &Value) -> (Vec<usize>, Vec<f32>) {
    let shape = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect();
    (shape, data)
}

fn tensor<const D: usize>(v: &Value, dev: &Device) -> Tensor<D> {
    let (shape, data) = array(v);
    assert_eq!(shape.len(), D, "fixture rank");
    Tensor::from_data(TensorData::new(data, shape), dev)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

fn set_linear(lin: &mut burn::nn::Linear, v: &Value, dev: &Device) {
    lin.weight = Param::from_tensor(tensor::<2>(&v["weight"], dev));
    if let Some(b) = v.get("bias") {
        lin.bias = Some(Param::from_tensor(tensor::<1>(b, dev)));
    }
}

fn set_norm(norm: &mut burn::nn::LayerNorm, v: &Value, dev: &Device) {
    norm.gamma = Param::from_tensor(tensor::<1>(&v["gamma"], dev));
    norm.beta = Some(Param::from_tensor(tensor::<1>(&v["beta"], dev)));
}

/// The tiny DOS Transformer of the fixture with its fixed weights.
fn fixture_dos(fx: &Value, query_chunk: usize, dev: &Device) -> DosTransformer {
    let c = &fx["config"];
    let u = |k: &str| c[k].as_u64().expect("config int") as usize;
    let mut model = DosTransformerConfig::new()
        .with_dim(u("dim"))
        .with_depth(u("depth"))
        .with_heads(u("heads"))
        .with_dim_head(u("dim_head"))
        .with_mlp_dim(u("mlp_dim"))
        .with_query_chunk(query_chunk)
        .init(dev);
    set_linear(&mut model.energy_embed, &fx["energy_embed"], dev);
    set_linear(&mut model.dos_embed, &fx["dos_embed"], dev);
    set_linear(&mut model.token_proj, &fx["token_proj"], dev);
    let blocks = fx["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), model.blocks.len());
    for (block, v) in model.blocks.iter_mut().zip(blocks) {
        set_norm(&mut block.attn_norm, &v["attn_norm"], dev);
        set_linear(&mut block.qkv, &v["qkv"], dev);
        set_linear(&mut block.attn_out, &v["attn_out"], dev);
        set_norm(&mut block.ff_norm, &v["ff_norm"], dev);
        set_linear(&mut block.ff1, &v["ff1"], dev);
        set_linear(&mut block.ff2, &v["ff2"], dev);
    }
    model
}

/// Checks that every float parameter of a module has a gradient with a non-zero entry.
struct GradCheck<'a> {
    grads: &'a Gradients,
    seen: usize,
    elements: usize,
    missing: Vec<String>,
    path: Vec<String>,
}

impl ModuleVisitor for GradCheck<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.val().is_require_grad() {
            return; // BatchNorm running statistics
        }
        self.seen += 1;
        self.elements += param.val().dims().iter().product::<usize>();
        let name = format!(
            "{} (#{}, shape {:?})",
            self.path.join("."),
            self.seen,
            param.val().dims()
        );
        match param.val().grad(self.grads) {
            None => self.missing.push(format!("{name}: no gradient")),
            Some(g) => {
                let max = g.abs().max().into_scalar::<f32>();
                if !(max > 0.0 && max.is_finite()) {
                    self.missing
                        .push(format!("{name}: gradient max |g| = {max}"));
                }
            }
        }
    }
}

fn check_all_grads<M: Module>(model: &M, grads: &Gradients) {
    let mut v = GradCheck {
        grads,
        seen: 0,
        elements: 0,
        missing: Vec::new(),
        path: Vec::new(),
    };
    model.visit(&mut v);
    assert!(v.seen > 0, "no parameters visited");
    assert_eq!(
        v.elements,
        trainable_params(model),
        "every trainable scalar checked"
    );
    assert!(
        v.missing.is_empty(),
        "parameters without gradient: {:#?}",
        v.missing
    );
}

/// A loss whose gradient is not annihilated by BatchNorm (a plain sum over the batch of a
/// per-channel affine function of normalised values would be).
fn loss(out: Tensor<2>) -> Tensor<1> {
    let [b, d] = out.dims();
    let ramp = Tensor::<1, burn::tensor::Int>::arange(0..(b * d) as i64, &out.device())
        .float()
        .reshape([b, d])
        .mul_scalar(0.01)
        .add_scalar(0.5);
    (out * ramp).powi_scalar(2).sum()
}

/// Synthetic DOS spectra `[B, 2, L]`: sorted energies in [−20, 10] eV, non-negative DOS.
fn dos_input(b: usize, l: usize, dev: &Device) -> Tensor<3> {
    let mut data = Vec::with_capacity(b * 2 * l);
    for i in 0..b {
        for t in 0..l {
            data.push(-20.0 + 30.0 * t as f32 / (l - 1) as f32 + 0.01 * i as f32);
        }
        for t in 0..l {
            let e = -20.0 + 30.0 * t as f32 / (l - 1) as f32;
            data.push(1.0 + (0.7 * e + i as f32).sin() + 0.05 * (e * e).sqrt());
        }
    }
    Tensor::from_data(TensorData::new(data, [b, 2, l]), dev)
}

fn density_input(b: usize, n: usize, dev: &Device) -> Tensor<5> {
    // Raw ρ·V values are O(1–100) with negative ringing; a normal around 5 mimics that.
    Tensor::random([b, 1, n, n, n], Distribution::Normal(5.0, 10.0), dev)
}

// ---------------------------------------------------------------------------------------------
// parameter counts (paper sizes; burn initialises parameters lazily, so counting is cheap)

#[test]
fn dos_transformer_paper_parameter_count() {
    let model = DosTransformerConfig::new().init(&Device::flex());
    assert_eq!(model.num_params(), 1_611_392);
}

#[test]
fn resnext50_paper_parameter_count() {
    let cfg = ResNeXt3dConfig::new();
    let model = cfg.init(&Device::flex());
    assert_eq!(trainable_params(&model), 26_084_032);
    // burn's count adds the running mean and variance of the 34,112 BatchNorm channels
    assert_eq!(model.num_params(), 26_084_032 + 2 * 34_112);
    assert_eq!(cfg.feature_channels(), 2048);
    // stage widths: mid = 32·⌊P/32⌋
    assert_eq!(cfg.mid_channels(128), 128);
    assert_eq!(cfg.mid_channels(1024), 1024);
    // 3 + 4 + 6 + 3 blocks; one projection shortcut per stage
    let blocks: Vec<usize> = model.stages.iter().map(Vec::len).collect();
    assert_eq!(blocks, vec![3, 4, 6, 3]);
    let shortcuts = model
        .stages
        .iter()
        .flatten()
        .filter(|b| b.shortcut.is_some())
        .count();
    assert_eq!(shortcuts, 4);
    // the grouped conv of layer1 holds 128·(128/32)·27 weights
    assert_eq!(model.stages[0][0].conv2.weight.dims(), [128, 4, 3, 3, 3]);
}

#[test]
fn text_mlp_paper_parameter_count() {
    let dev = Device::flex();
    assert_eq!(TextMlpConfig::new().init(&dev).num_params(), 722_048);
    // MiniLM width: 384·512+512 + 512·512+512 + 512·128+128
    let minilm = TextMlpConfig::new().with_d_input(384).init(&dev);
    assert_eq!(minilm.num_params(), 525_440);
}

// ---------------------------------------------------------------------------------------------
// shapes and input validation (small presets)

#[test]
fn small_presets_forward_shapes() {
    let dev = Device::flex();
    let dos = DosTransformerConfig::small().init(&dev);
    assert_eq!(dos.forward(dos_input(3, 601, &dev)).dims(), [3, 32]);

    let cd = ResNeXt3dConfig::small().init(&dev);
    assert_eq!(cd.forward(density_input(2, 32, &dev)).dims(), [2, 32]);
    assert_eq!(cd.features(density_input(1, 32, &dev)).dims(), [1, 512]);

    let text = TextMlpConfig::small().init(&dev);
    let x = Tensor::<2>::random([5, 384], Distribution::Normal(0.0, 1.0), &dev);
    assert_eq!(text.forward(x).dims(), [5, 32]);
}

#[test]
fn wrong_input_shapes_are_errors_not_panics() {
    let dev = Device::flex();
    let dos = DosTransformerConfig::small().init(&dev);
    let e = dos
        .try_forward(Tensor::zeros([2, 3, 601], &dev))
        .unwrap_err();
    assert!(
        matches!(e, EncoderError::InputShape { encoder: "dos", .. }),
        "{e}"
    );
    assert!(dos.try_forward(Tensor::zeros([0, 2, 601], &dev)).is_err());
    assert!(dos.try_forward(dos_input(1, 11, &dev)).is_ok());

    let text = TextMlpConfig::small().init(&dev);
    let e = text.try_forward(Tensor::zeros([4, 768], &dev)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "text input: expected shape [B>=1, 384], found [4, 768]"
    );

    let cd = ResNeXt3dConfig::small().init(&dev);
    assert!(cd
        .try_forward(Tensor::zeros([1, 2, 32, 32, 32], &dev))
        .is_err());
    assert!(cd.try_forward(density_input(1, 16, &dev)).is_ok());
    // a training-mode batch of one would give degenerate BatchNorm statistics
    let ad = Device::flex().autodiff();
    let cd_train = ResNeXt3dConfig::small().init(&ad);
    assert!(cd_train.try_forward(density_input(1, 16, &ad)).is_err());
    assert!(cd_train
        .valid()
        .try_forward(density_input(1, 16, &dev))
        .is_ok());
}

#[test]
fn invalid_configs_are_reported() {
    let e = DosTransformerConfig::new()
        .with_heads(0)
        .validate()
        .unwrap_err();
    assert_eq!(e.to_string(), "dos configuration: heads must be positive");
    let e = ResNeXt3dConfig::new()
        .with_planes([16, 64, 128, 256])
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("planes[0] = 16"), "{e}");
    assert!(ResNeXt3dConfig::new()
        .with_bn_momentum(1.5)
        .validate()
        .is_err());
    assert!(TextMlpConfig::new().with_d_hidden(0).validate().is_err());
    assert!(ResNeXt3dConfig::small().validate().is_ok());
}

// ---------------------------------------------------------------------------------------------
// numerics against NumPy

#[test]
fn attention_matches_numpy() {
    let fx = fixture();
    let dev = Device::flex();
    let a = &fx["attention"];
    let (q, k, v) = (
        tensor::<4>(&a["q"], &dev),
        tensor::<4>(&a["k"], &dev),
        tensor(&a["v"], &dev),
    );
    let (_, want) = array(&a["expected"]);
    let got = attention(q.clone(), k.clone(), v.clone(), 0);
    assert_eq!(got.dims(), [1, 2, 5, 3]);
    assert_close(&values(got), &want, 1e-5, "attention");
    // chunks of 2 query rows (5 = 2 + 2 + 1) give the same numbers
    assert_close(
        &values(attention(q, k, v, 2)),
        &want,
        1e-5,
        "chunked attention",
    );
}

#[test]
fn dos_transformer_matches_numpy() {
    let fx = fixture();
    let dev = Device::flex();
    let x = tensor::<3>(&fx["input"], &dev);
    let (embed_shape, want_embed) = array(&fx["expected_embed"]);
    let (out_shape, want) = array(&fx["expected_output"]);
    for chunk in [0, 3] {
        let model = fixture_dos(&fx, chunk, &dev);
        let embed = model.embed(x.clone());
        assert_eq!(embed.dims().to_vec(), embed_shape);
        assert_close(&values(embed), &want_embed, 1e-5, "token embeddings");
        let out = model.forward(x.clone());
        assert_eq!(out.dims().to_vec(), out_shape);
        assert_close(&values(out), &want, 1e-4, "DOS output");
    }
}

#[test]
fn max_pool3d_matches_brute_force() {
    let dev = Device::flex();
    let (b, c, d, h, w) = (2, 3, 5, 6, 4);
    // strictly negative values so that zero padding would be caught
    let x = Tensor::<5>::random([b, c, d, h, w], Distribution::Uniform(-5.0, -1.0), &dev);
    let xs = values(x.clone());
    let got = max_pool3d(x, 3, 2, 1);
    let out = |n: usize| (n + 2 - 3) / 2 + 1;
    let (od, oh, ow) = (out(d), out(h), out(w));
    assert_eq!(got.dims(), [b, c, od, oh, ow]);
    let got = values(got);
    let mut want = Vec::new();
    for bi in 0..b {
        for ci in 0..c {
            for zd in 0..od {
                for zh in 0..oh {
                    for zw in 0..ow {
                        let mut m = f32::NEG_INFINITY;
                        for kd in 0..3 {
                            for kh in 0..3 {
                                for kw in 0..3 {
                                    let (id, ih, iw) = (2 * zd + kd, 2 * zh + kh, 2 * zw + kw);
                                    if id < 1 || ih < 1 || iw < 1 || id > d || ih > h || iw > w {
                                        continue;
                                    }
                                    let idx =
                                        (((bi * c + ci) * d + id - 1) * h + ih - 1) * w + iw - 1;
                                    m = m.max(xs[idx]);
                                }
                            }
                        }
                        want.push(m);
                    }
                }
            }
        }
    }
    assert_close(&got, &want, 0.0, "max pool");
}

// ---------------------------------------------------------------------------------------------
// initialisation, BatchNorm modes, gradients

#[test]
fn conv_init_is_pytorch_kaiming_fan_out() {
    // PyTorch's fan_out for a grouped conv is C_out·k³ (groups not divided out), so the layer-4
    // grouped conv of the small preset (32 → 32 channels, 4 groups) has std √(2/(32·27)) = 0.0481;
    // burn's KaimingNormal would give √(2/(8·27)) = 0.0962.
    let model = ResNeXt3dConfig::small().init(&Device::flex());
    let w = values(model.stages[3][0].conv2.weight.val());
    assert_eq!(w.len(), 32 * 8 * 27);
    let n = w.len() as f64;
    let mean = w.iter().map(|&v| v as f64).sum::<f64>() / n;
    let std = (w.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    let expected = (2.0f64 / (32.0 * 27.0)).sqrt();
    assert!(
        (std / expected - 1.0).abs() < 0.08,
        "std {std}, expected {expected}"
    );
    assert!(mean.abs() < 0.01, "mean {mean}");
    // BatchNorm γ = 1, β = 0
    assert_eq!(values(model.stem_bn.gamma.val()), vec![1.0; 8]);
    assert_eq!(values(model.stem_bn.beta.val()), vec![0.0; 8]);
}

#[test]
fn batch_norm_train_uses_batch_stats_and_eval_uses_running_stats() {
    let ad = Device::flex().autodiff();
    let (b, c, s) = (3usize, 2usize, 2usize); // 3 grids of 2³ per channel → n = 24
    let data: Vec<f32> = (0..b * c * s * s * s)
        .map(|i| ((i * 37 % 23) as f32) * 0.5 - 3.0)
        .collect();
    let bn = BatchNorm3dConfig::new(c).init(&ad);
    let x = Tensor::<5>::from_data(TensorData::new(data.clone(), [b, c, s, s, s]), &ad);
    let y = values(bn.forward(x.clone()));

    // hand computation per channel
    let per = s * s * s;
    let channel = |ch: usize| -> Vec<f32> {
        (0..b)
            .flat_map(|bi| data[(bi * c + ch) * per..(bi * c + ch + 1) * per].to_vec())
            .collect()
    };
    let mut means = Vec::new();
    let mut unbiased = Vec::new();
    for ch in 0..c {
        let v = channel(ch);
        let n = v.len() as f64;
        let mean = v.iter().map(|&t| t as f64).sum::<f64>() / n;
        let ss = v.iter().map(|&t| (t as f64 - mean).powi(2)).sum::<f64>();
        let biased = ss / n;
        means.push(mean);
        unbiased.push(ss / (n - 1.0));
        // training output normalised with the batch (biased) variance
        for bi in 0..b {
            for p in 0..per {
                let idx = (bi * c + ch) * per + p;
                let want = ((data[idx] as f64 - mean) / (biased + 1e-5).sqrt()) as f32;
                assert!(
                    (y[idx] - want).abs() < 1e-4,
                    "train output {idx}: {} vs {want}",
                    y[idx]
                );
            }
        }
    }
    // running stats, PyTorch rule: 0.9·init + 0.1·batch, unbiased variance
    let rm = values(bn.running_mean.value_sync());
    let rv = values(bn.running_var.value_sync());
    for ch in 0..c {
        assert!(
            (rm[ch] as f64 - 0.1 * means[ch]).abs() < 1e-5,
            "running mean {ch}"
        );
        assert!(
            (rv[ch] as f64 - (0.9 + 0.1 * unbiased[ch])).abs() < 1e-4,
            "running var {ch}"
        );
    }

    // eval: the running statistics, not the batch's
    let eval = bn.valid();
    let xe = Tensor::<5>::from_data(
        TensorData::new(data.clone(), [b, c, s, s, s]),
        &Device::flex(),
    );
    let ye = values(eval.forward(xe));
    for ch in 0..c {
        for bi in 0..b {
            for p in 0..per {
                let idx = (bi * c + ch) * per + p;
                let want = (data[idx] - rm[ch]) / (rv[ch] + 1e-5).sqrt();
                assert!((ye[idx] - want).abs() < 1e-4, "eval output {idx}");
            }
        }
    }
}

#[test]
fn resnext_eval_is_per_sample_and_train_is_not() {
    let ad = Device::flex().autodiff();
    let model = ResNeXt3dConfig::small().init(&ad);
    let x = density_input(3, 16, &Device::flex());
    let first = || x.clone().narrow(0, 0, 1);

    // training mode: sample 0's embedding depends on the rest of the batch
    let train_batch = values(model.forward(x.clone().autodiff()).narrow(0, 0, 1));
    let train_pair = values(
        model
            .forward(x.clone().narrow(0, 0, 2).autodiff())
            .narrow(0, 0, 1),
    );
    let diff = train_batch
        .iter()
        .zip(&train_pair)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        diff > 1e-3,
        "train-mode outputs should depend on the batch (diff {diff})"
    );

    // eval mode: running statistics, so the batch does not matter
    let eval = model.valid();
    let alone = values(eval.forward(first()));
    let in_batch = values(eval.forward(x.clone()).narrow(0, 0, 1));
    assert_close(&alone, &in_batch, 1e-4, "eval output");
}

#[test]
fn gradients_reach_every_parameter() {
    let ad = Device::flex().autodiff();

    let dos = DosTransformerConfig::small().init(&ad);
    let grads = loss(dos.forward(dos_input(2, 41, &ad))).backward();
    check_all_grads(&dos, &grads);

    let cd = ResNeXt3dConfig::small().init(&ad);
    let grads = loss(cd.forward(density_input(3, 32, &ad))).backward();
    check_all_grads(&cd, &grads);

    let text = TextMlpConfig::small().init(&ad);
    let x = Tensor::<2>::random([4, 384], Distribution::Normal(0.0, 1.0), &ad);
    let grads = loss(text.forward(x)).backward();
    check_all_grads(&text, &grads);
}

#[test]
fn analytic_flops() {
    // text: 2·(768·512 + 512·512 + 512·128) multiply-adds + 512+512+128 biases + 1024 ReLUs
    let f = TextMlpConfig::new().forward_flops(1);
    assert_eq!(f, 2.0 * 722_048.0 - (512.0 + 512.0 + 128.0) + 1024.0);
    // DOS: the four layers' attention matmuls alone are 4·2·2·8·601²·64 FLOPs per spectrum
    let dos = DosTransformerConfig::new().forward_flops(1, 601);
    let attn = 4.0 * 2.0 * 2.0 * 8.0 * 601.0f64.powi(2) * 64.0;
    assert!(dos > attn && dos < 2.5 * attn, "DOS flops {dos:e}");
    // ResNeXt-50 3-D at 32³: stem conv = 2·16³·64·343 FLOPs; total a few GFLOP
    let r = ResNeXt3dConfig::new().forward_flops(1, 32);
    assert!(
        r > 2.0 * 4096.0 * 64.0 * 343.0 && r < 1e10,
        "ResNeXt flops {r:e}"
    );
}

// ---------------------------------------------------------------------------------------------
// timings at the paper sizes (CPU, release): `-- --ignored --nocapture`

fn time_step<F: FnMut() -> Tensor<1>>(name: &str, fwd_flops: f64, reps: usize, mut step: F) {
    let warm = step();
    let _ = warm.backward();
    let start = Instant::now();
    for _ in 0..reps {
        let l = step();
        let grads = l.backward();
        drop(grads);
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / reps as f64;
    let gflops = 3.0 * fwd_flops / (ms * 1e-3) / 1e9;
    println!(
        "BENCH {name}: {ms:.1} ms per forward+backward, forward {:.3} GFLOP, ≈ {gflops:.1} GFLOP/s (3× forward)",
        fwd_flops / 1e9
    );
}

#[test]
#[ignore = "timing at the paper size; run in release with --ignored --nocapture"]
fn bench_dos_paper_batch8() {
    let ad = Device::flex().autodiff();
    let cfg = DosTransformerConfig::new();
    let model = cfg.init(&ad);
    let x = dos_input(8, 601, &ad);
    time_step(
        "dos transformer B=8 L=601",
        cfg.forward_flops(8, 601),
        3,
        || loss(model.forward(x.clone())),
    );
}

#[test]
#[ignore = "timing at the paper size; run in release with --ignored --nocapture"]
fn bench_resnext_paper_batch4() {
    let ad = Device::flex().autodiff();
    let cfg = ResNeXt3dConfig::new();
    let model: ResNeXt3d = cfg.init(&ad);
    let x = density_input(4, 32, &ad);
    time_step("resnext50-3d B=4 32³", cfg.forward_flops(4, 32), 3, || {
        loss(model.forward(x.clone()))
    });
}

#[test]
#[ignore = "timing at the paper size; run in release with --ignored --nocapture"]
fn bench_text_paper_batch128() {
    let ad = Device::flex().autodiff();
    let cfg = TextMlpConfig::new();
    let model = cfg.init(&ad);
    let x = Tensor::<2>::random([128, 768], Distribution::Normal(0.0, 0.85), &ad);
    time_step("text mlp B=128 768", cfg.forward_flops(128), 20, || {
        loss(model.forward(x.clone()))
    });
}

#[test]
fn dos_token_stride_equals_the_full_model_on_window_means() {
    // A stride-4 encoder must see exactly the window means of the spectrum: feed the same
    // weights (stride 1) the hand-pooled spectrum and compare.
    let dev = Device::flex();
    let strided = DosTransformerConfig::small().init(&dev);
    assert_eq!(strided.token_stride, 4);
    let mut plain = strided.clone();
    plain.token_stride = 1;
    let (b, l) = (3, 23); // 23 = 5 windows of 4 + 3 dropped points
    let x = dos_input(b, l, &dev);
    let raw = values(x.clone());
    let mut pooled = Vec::new();
    for i in 0..b {
        for row in 0..2 {
            for w in 0..l / 4 {
                let at = |p: usize| raw[(i * 2 + row) * l + w * 4 + p];
                pooled.push((at(0) + at(1) + at(2) + at(3)) / 4.0);
            }
        }
    }
    let pooled = Tensor::<3>::from_data(TensorData::new(pooled, [b, 2, l / 4]), &dev);
    let want = values(plain.forward(pooled));
    let got = values(strided.forward(x));
    assert_close(&got, &want, 1e-5, "stride 4 vs pooled input");
    // Shorter than one window: every point stays a token.
    let short = dos_input(2, 3, &dev);
    assert_close(
        &values(strided.forward(short.clone())),
        &values(plain.forward(short)),
        1e-6,
        "spectrum shorter than the stride",
    );
}

//! Charge-density encoder (spec §2.3): a 3-D ResNeXt-50 (Hara et al.'s `resnext50`, as used in
//! the reference's `src/model/ResNeXt_3D.py`) over the `[B, 1, 32, 32, 32]` valence density grid.
//!
//! ```text
//! stem   Conv3d(1→64, k7, s2, p3) BN ReLU MaxPool3d(k3, s2, p1)      32³ → 16³ → 8³
//! layer1 3 blocks, P=128,  s=1 → 256 ch,  8³
//! layer2 4 blocks, P=256,  s=2 → 512 ch,  4³
//! layer3 6 blocks, P=512,  s=2 → 1024 ch, 2³
//! layer4 3 blocks, P=1024, s=2 → 2048 ch, 1³
//! average over the grid → Linear(2048 → 128)
//! block: Conv1³(in→mid) BN ReLU → Conv3³(mid→mid, stride s, groups = cardinality) BN ReLU
//!        → Conv1³(mid→2P) BN, + shortcut, ReLU;   mid = cardinality·⌊P/32⌋
//! ```
//! The shortcut is "type B": a strided 1×1×1 convolution plus BatchNorm when the shape changes
//! (the first block of every stage here), the identity otherwise. All convolutions are
//! bias-free. Parameters at the paper's size: 26,084,032, counting every BatchNorm's γ and β
//! (2 per channel) and not its running statistics, which is what PyTorch's
//! `sum(p.numel() for p in model.parameters())` counts (running stats are buffers). burn's
//! `Module::num_params` also counts the running mean and variance (its `RunningState` is
//! visited like a parameter) and reports 26,152,256 = 26,084,032 + 2·34,112 BatchNorm
//! channels; [`trainable_param_count`] gives the PyTorch figure.
//!
//! Inputs are the raw ρ·V grids, negative ringing values included, without normalisation
//! (spec §10 gotcha 11). The reference feeds zero-filled grids for materials that lack a
//! density, and those zeros enter the BatchNorm batch statistics (gotcha 4). This module
//! encodes whatever it is given; a training loop that wants to avoid the pollution passes only
//! the present rows.
//!
//! burn 0.22 has no `MaxPool3d`/`AvgPool3d`; [`max_pool3d`] is built from a 2-D and a 1-D max
//! pool (a box maximum is separable), and the final `AvgPool3d` (kernel 1 on the 1³ map at the
//! paper's size) is a mean over the remaining grid, which is the same thing for 32³ inputs and
//! keeps the head's width at the last stage's channel count for other grid sizes.

use burn::config::Config;
use burn::module::{Flag, Module, Param, RunningState};
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::pool::{MaxPool1dConfig, MaxPool2dConfig};
use burn::nn::{
    Initializer, Linear, LinearConfig, PaddingConfig1d, PaddingConfig2d, PaddingConfig3d,
};
use burn::tensor::activation::relu;
use burn::tensor::module::{batch_norm, batch_norm_train};
use burn::tensor::{Device, Tensor};

use crate::error::EncoderError;

/// The reference's grouped-width rule `mid = cardinality · ⌊planes / 32⌋` uses this constant.
const PLANES_PER_GROUP_UNIT: usize = 32;
/// Strides of the four stages.
const STAGE_STRIDES: [usize; 4] = [1, 2, 2, 2];

/// Configuration of the [`ResNeXt3d`]. Defaults are the paper's `resnext50` (spec §2.3).
#[derive(Config, Debug)]
pub struct ResNeXt3dConfig {
    /// Input channels (1: the total charge density).
    #[config(default = 1)]
    pub in_channels: usize,
    /// Output channels of the stem convolution.
    #[config(default = 64)]
    pub stem_channels: usize,
    /// Side of the stride-2 stem convolution's cubic kernel (odd; padding `k/2`). The
    /// reference's 7 makes the one-input-channel stem most of a small model's work (343
    /// multiply-adds per output voxel and channel); the small preset uses 3.
    #[config(default = 7)]
    pub stem_kernel: usize,
    /// Number of groups of the 3×3×3 convolution in every block.
    #[config(default = 32)]
    pub cardinality: usize,
    /// Blocks per stage.
    #[config(default = "[3, 4, 6, 3]")]
    pub layers: [usize; 4],
    /// "planes" P of each stage; a stage outputs `expansion · P` channels and its grouped
    /// convolution has `cardinality · ⌊P/32⌋` channels, so every P must be at least 32.
    #[config(default = "[128, 256, 512, 1024]")]
    pub planes: [usize; 4],
    /// Bottleneck expansion (2 in ResNeXt, against 4 in ResNet).
    #[config(default = 2)]
    pub expansion: usize,
    /// Width of the output embedding.
    #[config(default = 128)]
    pub d_output: usize,
    /// BatchNorm epsilon (PyTorch's default).
    #[config(default = 1e-5)]
    pub bn_epsilon: f64,
    /// BatchNorm running-statistics momentum, PyTorch convention
    /// (`running = (1 − m)·running + m·batch`).
    #[config(default = 0.1)]
    pub bn_momentum: f64,
}

impl ResNeXt3dConfig {
    /// A small preset for CPU demos and tests: stem 8, cardinality 4, one block per stage,
    /// planes [32, 64, 128, 256] (grouped widths 4/8/16/32, stage outputs 64…512), output 32.
    pub fn small() -> Self {
        Self::new()
            .with_stem_channels(8)
            .with_stem_kernel(3)
            .with_cardinality(4)
            .with_layers([1, 1, 1, 1])
            .with_planes([32, 64, 128, 256])
            .with_d_output(32)
    }

    /// Width of the grouped convolution of a stage with `planes` P.
    pub fn mid_channels(&self, planes: usize) -> usize {
        self.cardinality * (planes / PLANES_PER_GROUP_UNIT)
    }

    /// Channels entering the head (`expansion · planes[3]`; 2048 at the paper's size).
    pub fn feature_channels(&self) -> usize {
        self.expansion * self.planes[3]
    }

    /// Checks widths, block counts, epsilon and momentum.
    pub fn validate(&self) -> Result<(), EncoderError> {
        let bad = |problem: String| EncoderError::InvalidConfig {
            encoder: "density",
            problem,
        };
        for (name, value) in [
            ("in_channels", self.in_channels),
            ("stem_channels", self.stem_channels),
            ("stem_kernel", self.stem_kernel),
            ("cardinality", self.cardinality),
            ("expansion", self.expansion),
            ("d_output", self.d_output),
        ] {
            if value == 0 {
                return Err(bad(format!("{name} must be positive")));
            }
        }
        if self.stem_kernel.is_multiple_of(2) {
            return Err(bad(format!(
                "stem_kernel must be odd (padding k/2 keeps the grid centred), found {}",
                self.stem_kernel
            )));
        }
        for (stage, (&blocks, &planes)) in self.layers.iter().zip(&self.planes).enumerate() {
            if blocks == 0 {
                return Err(bad(format!("layers[{stage}] must be at least 1")));
            }
            if planes < PLANES_PER_GROUP_UNIT {
                return Err(bad(format!(
                    "planes[{stage}] = {planes} gives a grouped width cardinality·⌊P/32⌋ of 0; \
                     use P >= 32"
                )));
            }
        }
        if !(self.bn_epsilon.is_finite() && self.bn_epsilon > 0.0) {
            return Err(bad(format!(
                "bn_epsilon must be finite and positive, found {}",
                self.bn_epsilon
            )));
        }
        if !(self.bn_momentum.is_finite() && (0.0..=1.0).contains(&self.bn_momentum)) {
            return Err(bad(format!(
                "bn_momentum must be in [0, 1], found {}",
                self.bn_momentum
            )));
        }
        Ok(())
    }

    /// Builds the network. Convolution weights are Kaiming-normal in PyTorch's `fan_out` mode
    /// with the ReLU gain, `std = √2 / √(C_out · k³)`. burn's own `KaimingNormal` divides
    /// `fan_out` by the number of groups, PyTorch does not, so the standard deviation is
    /// computed here and passed as a plain normal. BatchNorm γ = 1, β = 0, running mean 0 and
    /// variance 1. The head is a PyTorch-default `Linear` (U(±1/√fan_in), burn's default).
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails; call it first on user-supplied configurations.
    pub fn init(&self, device: &Device) -> ResNeXt3d {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let bn = |c: usize| {
            BatchNorm3dConfig {
                num_features: c,
                epsilon: self.bn_epsilon,
                momentum: self.bn_momentum,
            }
            .init(device)
        };
        let k = self.stem_kernel;
        let stem = kaiming_conv(
            [self.in_channels, self.stem_channels],
            k,
            2,
            k / 2,
            1,
            device,
        );
        let mut in_ch = self.stem_channels;
        let mut stages = Vec::with_capacity(4);
        for (stage, &stage_stride) in STAGE_STRIDES.iter().enumerate() {
            let planes = self.planes[stage];
            let mid = self.mid_channels(planes);
            let out = self.expansion * planes;
            let mut blocks = Vec::with_capacity(self.layers[stage]);
            for i in 0..self.layers[stage] {
                let stride = if i == 0 { stage_stride } else { 1 };
                let shortcut = (stride != 1 || in_ch != out).then(|| Shortcut {
                    conv: kaiming_conv([in_ch, out], 1, stride, 0, 1, device),
                    bn: bn(out),
                });
                blocks.push(Bottleneck {
                    conv1: kaiming_conv([in_ch, mid], 1, 1, 0, 1, device),
                    bn1: bn(mid),
                    conv2: kaiming_conv([mid, mid], 3, stride, 1, self.cardinality, device),
                    bn2: bn(mid),
                    conv3: kaiming_conv([mid, out], 1, 1, 0, 1, device),
                    bn3: bn(out),
                    shortcut,
                });
                in_ch = out;
            }
            stages.push(blocks);
        }
        ResNeXt3d {
            stem_conv: stem,
            stem_bn: bn(self.stem_channels),
            stages,
            head: LinearConfig::new(in_ch, self.d_output).init(device),
        }
    }

    /// Forward floating-point operations for `batch` grids of `grid³` points (multiply-add = 2
    /// for the convolutions and the head; BatchNorm, ReLU, pooling and residual adds counted
    /// per element). Convolutions dominate (≈ 99 %).
    pub fn forward_flops(&self, batch: usize, grid: usize) -> f64 {
        let out_size =
            |n: usize, k: usize, s: usize, p: usize| (n + 2 * p).saturating_sub(k) / s + 1;
        let conv = |cin: usize, cout: usize, groups: usize, k: usize, n_out: usize| {
            2.0 * (n_out.pow(3) * cout) as f64 * (cin / groups * k.pow(3)) as f64
        };
        let elementwise = |c: usize, n: usize, per: f64| per * (c * n.pow(3)) as f64;
        let k = self.stem_kernel;
        let mut n = out_size(grid, k, 2, k / 2);
        let mut total = conv(self.in_channels, self.stem_channels, 1, k, n)
            + elementwise(self.stem_channels, n, 6.0); // BN (≈4) + ReLU
        n = out_size(n, 3, 2, 1);
        total += elementwise(self.stem_channels, n, 27.0); // max over 27 neighbours
        let mut in_ch = self.stem_channels;
        for (stage, &stage_stride) in STAGE_STRIDES.iter().enumerate() {
            let planes = self.planes[stage];
            let (mid, out) = (self.mid_channels(planes), self.expansion * planes);
            for i in 0..self.layers[stage] {
                let stride = if i == 0 { stage_stride } else { 1 };
                let n_in = n;
                n = out_size(n, 3, stride, 1);
                total += conv(in_ch, mid, 1, 1, n_in) + elementwise(mid, n_in, 5.0);
                total += conv(mid, mid, self.cardinality, 3, n) + elementwise(mid, n, 5.0);
                total += conv(mid, out, 1, 1, n) + elementwise(out, n, 6.0);
                if stride != 1 || in_ch != out {
                    total += conv(in_ch, out, 1, 1, n) + elementwise(out, n, 4.0);
                }
                in_ch = out;
            }
        }
        total += elementwise(in_ch, n, 1.0) + (2 * in_ch * self.d_output + self.d_output) as f64;
        batch as f64 * total
    }
}

/// A bias-free 3-D convolution with a cubic kernel and PyTorch's Kaiming-normal `fan_out`
/// initialisation (`std = √(2 / (C_out · k³))`, groups not divided out).
fn kaiming_conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    groups: usize,
    device: &Device,
) -> Conv3d {
    let fan_out = (channels[1] * kernel.pow(3)) as f64;
    Conv3dConfig::new(channels, [kernel; 3])
        .with_stride([stride; 3])
        .with_padding(PaddingConfig3d::Explicit(padding, padding, padding))
        .with_groups(groups)
        .with_bias(false)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: (2.0 / fan_out).sqrt(),
        })
        .init(device)
}

/// Configuration of a [`BatchNorm3d`].
#[derive(Config, Debug)]
pub struct BatchNorm3dConfig {
    /// Number of channels.
    pub num_features: usize,
    /// Added to the variance before the square root.
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Running-statistics momentum (PyTorch convention).
    #[config(default = 0.1)]
    pub momentum: f64,
}

impl BatchNorm3dConfig {
    /// γ = 1, β = 0, running mean 0, running variance 1, training mode on.
    pub fn init(&self, device: &Device) -> BatchNorm3d {
        BatchNorm3d {
            gamma: Initializer::Ones.init([self.num_features], device),
            beta: Initializer::Zeros.init([self.num_features], device),
            training: Param::from_bool(true),
            running_mean: RunningState::new(Tensor::zeros([self.num_features], device)),
            running_var: RunningState::new(Tensor::ones([self.num_features], device)),
            epsilon: self.epsilon,
            momentum: self.momentum,
        }
    }
}

/// BatchNorm with PyTorch's running-variance rule.
///
/// burn's `nn::BatchNorm` updates its running variance with the biased batch variance
/// (divide by n); PyTorch's `BatchNorm3d` uses the unbiased one (divide by n − 1) while still
/// normalising the batch with the biased one. The difference is large in the last stage, where
/// the grid is 1³ and n is the batch size, so this layer follows PyTorch. Like burn's layer it
/// normalises with batch statistics (and updates the running ones) when the input is on an
/// autodiff device and the module is in training mode, and with the running statistics
/// otherwise (after [`Module::valid`], or on a plain device).
#[derive(Module, Debug)]
pub struct BatchNorm3d {
    /// Scale γ, `[C]`.
    pub gamma: Param<Tensor<1>>,
    /// Shift β, `[C]`.
    pub beta: Param<Tensor<1>>,
    /// Training-mode flag (cleared by [`Module::valid`]).
    pub training: Param<Flag>,
    /// Running mean, `[C]`.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running (unbiased) variance, `[C]`.
    pub running_var: RunningState<Tensor<1>>,
    /// Added to the variance before the square root.
    #[module(skip)]
    pub epsilon: f64,
    /// Running-statistics momentum.
    #[module(skip)]
    pub momentum: f64,
}

impl BatchNorm3d {
    /// `x`: `[B, C, ...]` → same shape, normalised per channel.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if !(x.device().is_autodiff() && self.training.is_enabled()) {
            let device = x.device();
            return batch_norm(
                x,
                self.gamma.val(),
                self.beta.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                self.epsilon,
            );
        }
        let dims = x.dims();
        let per_channel = dims.iter().product::<usize>() / dims[1].max(1);
        let device = x.device();
        let result = batch_norm_train(x, self.gamma.val(), self.beta.val(), self.epsilon);
        let bessel = if per_channel > 1 {
            per_channel as f64 / (per_channel - 1) as f64
        } else {
            1.0
        };
        let m = self.momentum;
        let mean = self
            .running_mean
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - m)
            .add(result.mean.detach().mul_scalar(m));
        let var = self
            .running_var
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - m)
            .add(result.variance.detach().mul_scalar(m * bessel));
        self.running_mean.update(mean.detach());
        self.running_var.update(var.detach());
        result.output
    }
}

/// Type-B projection shortcut: strided 1×1×1 convolution + BatchNorm.
#[derive(Module, Debug)]
pub struct Shortcut {
    /// `in → out` channels, stride s.
    pub conv: Conv3d,
    /// BatchNorm over `out` channels.
    pub bn: BatchNorm3d,
}

/// ResNeXt bottleneck block (expansion 2, grouped 3×3×3 convolution).
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// 1×1×1, `in → mid`.
    pub conv1: Conv3d,
    /// BatchNorm over `mid`.
    pub bn1: BatchNorm3d,
    /// 3×3×3, `mid → mid`, stride s, `cardinality` groups.
    pub conv2: Conv3d,
    /// BatchNorm over `mid`.
    pub bn2: BatchNorm3d,
    /// 1×1×1, `mid → expansion·P`.
    pub conv3: Conv3d,
    /// BatchNorm over `expansion·P`.
    pub bn3: BatchNorm3d,
    /// Projection shortcut when stride or width change; identity otherwise.
    pub shortcut: Option<Shortcut>,
}

impl Bottleneck {
    /// `x`: `[B, in, n, n, n]` → `[B, expansion·P, n', n', n']` with `n' = ⌈n / s⌉`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let residual = match &self.shortcut {
            Some(s) => s.bn.forward(s.conv.forward(x.clone())),
            None => x.clone(),
        };
        let h = relu(self.bn1.forward(self.conv1.forward(x)));
        let h = relu(self.bn2.forward(self.conv2.forward(h)));
        let h = self.bn3.forward(self.conv3.forward(h));
        relu(h + residual)
    }
}

/// The 3-D ResNeXt: `[B, 1, n, n, n]` charge-density grids → `[B, d_output]` embeddings.
#[derive(Module, Debug)]
pub struct ResNeXt3d {
    /// Stride-2 stem convolution (7×7×7 in the reference).
    pub stem_conv: Conv3d,
    /// Stem BatchNorm.
    pub stem_bn: BatchNorm3d,
    /// The four stages of bottleneck blocks.
    pub stages: Vec<Vec<Bottleneck>>,
    /// `Linear(expansion·planes[3] → d_output)`.
    pub head: Linear,
}

impl ResNeXt3d {
    /// Input channels the stem expects.
    pub fn in_channels(&self) -> usize {
        self.stem_conv.weight.shape().dims::<5>()[1]
    }

    /// Pooled features before the head: `[B, C_in, n, n, n]` → `[B, expansion·planes[3]]`.
    pub fn features(&self, x: Tensor<5>) -> Tensor<2> {
        let h = relu(self.stem_bn.forward(self.stem_conv.forward(x)));
        let mut h = max_pool3d(h, 3, 2, 1);
        for stage in &self.stages {
            for block in stage {
                h = block.forward(h);
            }
        }
        let [b, c, ..] = h.dims();
        h.reshape([b as i32, c as i32, -1])
            .mean_dim(2)
            .reshape([b, c])
    }

    /// `x`: `[B, C_in, n, n, n]` grids of ρ·V (electrons; 32³ in the paper) → `[B, d_output]`.
    ///
    /// Burn panics on a wrong rank or channel count; use [`try_forward`](Self::try_forward) for
    /// tensors that come from outside the program.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        self.head.forward(self.features(x))
    }

    /// [`forward`](Self::forward) after checking the channel count, that the grid is at least
    /// 1 point in every direction, and that a training-mode batch has at least 2 grids
    /// (PyTorch refuses BatchNorm statistics over a single value per channel, which is what
    /// the 1³ last stage would give).
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<2>, EncoderError> {
        let dims = x.dims();
        let training = x.device().is_autodiff() && self.stem_bn.training.is_enabled();
        if dims[0] == 0
            || dims[1] != self.in_channels()
            || dims[2..].contains(&0)
            || (training && dims[0] < 2)
        {
            return Err(EncoderError::InputShape {
                encoder: "density",
                expected: format!(
                    "[B>={}, {}, n, n, n] (n = 32 in the paper)",
                    if training { 2 } else { 1 },
                    self.in_channels()
                ),
                found: dims.to_vec(),
            });
        }
        Ok(self.forward(x))
    }
}

/// 3-D max pooling with a cubic window, `[B, C, D, H, W]` → `[B, C, D', H', W']` with
/// `D' = ⌊(D + 2p − k)/s⌋ + 1` (PyTorch's `MaxPool3d(k, s, p)`, floor mode).
///
/// A maximum over a box is a maximum over depth of the maxima over (height, width), so this
/// is a 2-D max pool over `[B, C·D, H, W]` followed by a 1-D max pool over depth. Padded
/// positions never win (burn pads max pools with −∞).
pub fn max_pool3d(x: Tensor<5>, kernel: usize, stride: usize, padding: usize) -> Tensor<5> {
    let [b, c, d, h, w] = x.dims();
    let pool2 = MaxPool2dConfig::new([kernel, kernel])
        .with_strides([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .init();
    let plane = pool2.forward(x.reshape([b, c * d, h, w]));
    let [_, _, h2, w2] = plane.dims();
    let depth_last = plane
        .reshape([b, c, d, h2 * w2])
        .swap_dims(2, 3)
        .reshape([b, c * h2 * w2, d]);
    let pool1 = MaxPool1dConfig::new(kernel)
        .with_stride(stride)
        .with_padding(PaddingConfig1d::Explicit(padding, padding))
        .init();
    let pooled = pool1.forward(depth_last);
    let d2 = pooled.dims()[2];
    pooled
        .reshape([b, c, h2 * w2, d2])
        .swap_dims(2, 3)
        .reshape([b, c, d2, h2, w2])
}

//! Text encoder (spec §2.4): a three-layer MLP over frozen language-model sentence vectors.
//!
//! The reference (`src/model/text_mlp.py`) never runs the language model during training: it
//! reads precomputed 768-d MatBERT vectors and trains only this MLP. `--text_nonlinear` is a
//! `store_true` flag whose default is already `True`, and `--text_depth` is parsed but ignored
//! (spec §10 gotchas 19 and 21), so the network is always
//! `Linear(d_in→512) → ReLU → Linear(512→512) → ReLU → Linear(512→128)`, without BatchNorm or
//! dropout.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::error::EncoderError;

/// Configuration of the [`TextMlp`]. Defaults are the paper's (spec §2.4): 768-d MatBERT input,
/// hidden width 512, 128-d output. Total 722,048 parameters at these sizes.
#[derive(Config, Debug)]
pub struct TextMlpConfig {
    /// Width of the frozen text vectors (768 for BERT-base / MatBERT, 384 for all-MiniLM-L6-v2).
    #[config(default = 768)]
    pub d_input: usize,
    /// Width of both hidden layers.
    #[config(default = 512)]
    pub d_hidden: usize,
    /// Width of the shared latent space.
    #[config(default = 128)]
    pub d_output: usize,
}

impl TextMlpConfig {
    /// A small preset for CPU demos and tests: 384-d input (MiniLM width), hidden 64, output 32.
    pub fn small() -> Self {
        Self::new()
            .with_d_input(384)
            .with_d_hidden(64)
            .with_d_output(32)
    }

    /// Checks that every width is positive.
    pub fn validate(&self) -> Result<(), EncoderError> {
        for (name, value) in [
            ("d_input", self.d_input),
            ("d_hidden", self.d_hidden),
            ("d_output", self.d_output),
        ] {
            if value == 0 {
                return Err(EncoderError::InvalidConfig {
                    encoder: "text",
                    problem: format!("{name} must be positive"),
                });
            }
        }
        Ok(())
    }

    /// Builds the MLP. Linear layers use burn's default initialiser, which is PyTorch's
    /// `nn.Linear` default: weight and bias both U(±1/√fan_in) (burn's
    /// `KaimingUniform{gain: 1/√3}` gives bound `√3·gain/√fan_in = 1/√fan_in`).
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails (a zero width); call it first on user-supplied
    /// configurations.
    pub fn init(&self, device: &Device) -> TextMlp {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        TextMlp {
            fc1: LinearConfig::new(self.d_input, self.d_hidden).init(device),
            fc2: LinearConfig::new(self.d_hidden, self.d_hidden).init(device),
            fc3: LinearConfig::new(self.d_hidden, self.d_output).init(device),
        }
    }

    /// Forward floating-point operations for `batch` vectors (a multiply-add counts 2; bias
    /// additions and ReLUs included).
    pub fn forward_flops(&self, batch: usize) -> f64 {
        let linear = |i: usize, o: usize| (2 * i * o + o) as f64;
        batch as f64
            * (linear(self.d_input, self.d_hidden)
                + linear(self.d_hidden, self.d_hidden)
                + linear(self.d_hidden, self.d_output)
                + 2.0 * self.d_hidden as f64)
    }
}

/// The text MLP: `[B, d_input]` frozen sentence vectors → `[B, d_output]` embeddings.
#[derive(Module, Debug)]
pub struct TextMlp {
    /// `d_input → d_hidden`.
    pub fc1: Linear,
    /// `d_hidden → d_hidden`.
    pub fc2: Linear,
    /// `d_hidden → d_output`.
    pub fc3: Linear,
}

impl TextMlp {
    /// Width of the input vectors this MLP expects.
    pub fn d_input(&self) -> usize {
        self.fc1.weight.shape().dims::<2>()[0]
    }

    /// `x`: `[B, d_input]` (unit-free language-model features) → `[B, d_output]`.
    ///
    /// Burn panics on a width mismatch; use [`try_forward`](Self::try_forward) for tensors that
    /// come from outside the program.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = relu(self.fc1.forward(x));
        let x = relu(self.fc2.forward(x));
        self.fc3.forward(x)
    }

    /// [`forward`](Self::forward) after checking that `x` is `[B, d_input]` with `B ≥ 1`.
    pub fn try_forward(&self, x: Tensor<2>) -> Result<Tensor<2>, EncoderError> {
        let dims = x.dims();
        if dims[0] == 0 || dims[1] != self.d_input() {
            return Err(EncoderError::InputShape {
                encoder: "text",
                expected: format!("[B>=1, {}]", self.d_input()),
                found: dims.to_vec(),
            });
        }
        Ok(self.forward(x))
    }
}

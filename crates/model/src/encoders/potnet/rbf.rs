//! PotNet's `RBFExpansion` (AIRS `models/utils.py`): centres μ_k = linspace(min, max, K),
//! lengthscale ℓ = mean spacing = (max − min)/(K − 1), u_k = (x − μ_k)/ℓ.

use burn::tensor::{Device, Tensor, TensorData};

/// The K centres linspace(`min`, `max`, K) as a `[1, K]` tensor (computed in f64, stored f32).
pub fn rbf_centers(min: f64, max: f64, bins: usize, device: &Device) -> Tensor<2> {
    let step = if bins > 1 {
        (max - min) / (bins - 1) as f64
    } else {
        0.0
    };
    let centres: Vec<f32> = (0..bins).map(|k| (min + step * k as f64) as f32).collect();
    Tensor::from_data(TensorData::new(centres, [1, bins]), device)
}

/// `[P]` → `[P, K]` scaled offsets u_k = (x − μ_k)/ℓ.
fn scaled_offsets(x: Tensor<1>, min: f64, max: f64, bins: usize) -> Tensor<2> {
    let centres = rbf_centers(min, max, bins, &x.device());
    // With a single bin the spacing is undefined; PyTorch would give NaN. One bin of unit
    // width keeps the expansion finite for degenerate configurations.
    let lengthscale = if bins > 1 {
        (max - min) / (bins - 1) as f64
    } else {
        1.0
    };
    let [p] = x.dims();
    x.reshape([p, 1]).sub(centres).div_scalar(lengthscale)
}

/// Gaussian expansion exp(−u_k²): `[P]` → `[P, K]`. Used on −0.75/d of the local edges
/// (K = 256, ℓ = 8/255 at the paper size).
pub fn gaussian_rbf(x: Tensor<1>, min: f64, max: f64, bins: usize) -> Tensor<2> {
    scaled_offsets(x, min, max, bins).powi_scalar(2).neg().exp()
}

/// Multiquadric expansion √(1 + u_k²): `[P]` → `[P, K]`, unbounded (grows like |u| away from
/// the centres). Used on the infinite-edge potential (K = 64, ℓ = 8/63).
pub fn multiquadric_rbf(x: Tensor<1>, min: f64, max: f64, bins: usize) -> Tensor<2> {
    scaled_offsets(x, min, max, bins)
        .powi_scalar(2)
        .add_scalar(1.0)
        .sqrt()
}

//! The encoders. Each has a documented `Config` with the paper's defaults, `init`, and a
//! `forward` whose doc states the tensor shapes.

pub mod cgcnn;
pub mod charge_density;
pub mod dos;
pub mod potnet;
pub mod text;

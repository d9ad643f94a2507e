//! Choosing the compute device from a config string (`cpu`, `cuda`, `cuda:N`, `wgpu`, `wgpu:N`).

use burn::tensor::Device;

use crate::error::{Result, TrainError};

/// A device named by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// burn's flex CPU backend (multi-threaded with rayon).
    Cpu,
    /// An NVIDIA GPU by index (needs the `cuda` feature).
    Cuda(usize),
    /// A discrete GPU by index through wgpu (Vulkan on Linux; needs the `wgpu` feature).
    Wgpu(usize),
}

/// Parses `cpu`, `cuda` (= `cuda:0`), `cuda:N`, `wgpu` (= `wgpu:0`) or `wgpu:N`.
pub fn parse_device(s: &str) -> std::result::Result<DeviceSpec, String> {
    let s = s.trim();
    let index = |n: &str, kind: &str| {
        n.parse::<usize>()
            .map_err(|_| format!("`{s}`: the GPU index after `{kind}:` must be a number"))
    };
    match s {
        "cpu" | "flex" => Ok(DeviceSpec::Cpu),
        "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
        "wgpu" | "vulkan" => Ok(DeviceSpec::Wgpu(0)),
        _ => {
            if let Some(n) = s.strip_prefix("cuda:") {
                index(n, "cuda").map(DeviceSpec::Cuda)
            } else if let Some(n) = s.strip_prefix("wgpu:") {
                index(n, "wgpu").map(DeviceSpec::Wgpu)
            } else {
                Err(format!("unknown device `{s}`; use cpu, cuda:N or wgpu:N"))
            }
        }
    }
}

impl DeviceSpec {
    /// The burn device without autodiff (for inference).
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceSpec::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(i) => Ok(Device::cuda(i)),
            #[cfg(not(feature = "cuda"))]
            DeviceSpec::Cuda(i) => Err(TrainError::Device(format!(
                "cuda:{i}: this multimat was built without GPU support; rebuild with `--features cuda`"
            ))),
            #[cfg(feature = "wgpu")]
            DeviceSpec::Wgpu(i) => Ok(Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(i))),
            #[cfg(not(feature = "wgpu"))]
            DeviceSpec::Wgpu(i) => Err(TrainError::Device(format!(
                "wgpu:{i}: this multimat was built without wgpu support; rebuild with `--features wgpu`"
            ))),
        }
    }

    /// The burn device with autodiff (for training).
    pub fn autodiff_device(self) -> Result<Device> {
        Ok(self.device()?.autodiff())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!(parse_device("cpu"), Ok(DeviceSpec::Cpu));
        assert_eq!(parse_device("cuda"), Ok(DeviceSpec::Cuda(0)));
        assert_eq!(parse_device("cuda:3"), Ok(DeviceSpec::Cuda(3)));
        assert!(parse_device("cuda:x").is_err());
        assert_eq!(parse_device("wgpu"), Ok(DeviceSpec::Wgpu(0)));
        assert_eq!(parse_device("wgpu:1"), Ok(DeviceSpec::Wgpu(1)));
        assert!(parse_device("metal").is_err());
    }
}

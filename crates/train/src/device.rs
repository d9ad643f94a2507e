//! Choosing the compute device from a config string (`cpu`, `cuda`, `cuda:N`).

use burn::tensor::Device;

use crate::error::{Result, TrainError};

/// A device named by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// burn's flex CPU backend (multi-threaded with rayon).
    Cpu,
    /// An NVIDIA GPU by index (needs the `cuda` feature).
    Cuda(usize),
}

/// Parses `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
pub fn parse_device(s: &str) -> std::result::Result<DeviceSpec, String> {
    let s = s.trim();
    match s {
        "cpu" | "flex" => Ok(DeviceSpec::Cpu),
        "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
        _ => match s.strip_prefix("cuda:") {
            Some(n) => n
                .parse()
                .map(DeviceSpec::Cuda)
                .map_err(|_| format!("`{s}`: the GPU index after `cuda:` must be a number")),
            None => Err(format!("unknown device `{s}`; use cpu or cuda:N")),
        },
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
        assert!(parse_device("metal").is_err());
    }
}

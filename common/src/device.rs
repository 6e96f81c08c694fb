//! Device selection: `--device auto|cpu|cuda`. The probe never panics: a missing or broken GPU
//! stack is a CPU fallback for `auto` (with the reason recorded) and a [`BadInput`] for `cuda`.
use crate::error::BadInput;
use serde::{Deserialize, Serialize};

/// The user's `--device` request, before probing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A GPU if the probe finds a usable one, else the CPU.
    Auto,
    /// The CPU, without probing.
    Cpu,
    /// A GPU; an error if none is usable.
    Cuda,
}

impl std::str::FromStr for DeviceChoice {
    type Err = BadInput;
    fn from_str(s: &str) -> Result<Self, BadInput> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda),
            _ => Err(BadInput::new(format!("unknown device `{s}`: accepted are auto, cpu, cuda"))),
        }
    }
}

/// The device a run uses, after probing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The CPU path.
    Cpu,
    /// The CUDA GPU path.
    Cuda,
}

/// The device a run actually uses, with why.
#[derive(Clone, Debug)]
pub struct Probed {
    /// The device chosen.
    pub device: Device,
    /// Why: the request and the GPU's description, or the reason no GPU is usable.
    pub note: String,
}

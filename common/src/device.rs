//! Device selection: `--device auto|cpu|cuda`. The probe never panics: a missing or broken GPU
//! stack is a CPU fallback for `auto` (with the reason recorded) and a [`BadInput`] for `cuda`.
use crate::error::BadInput;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    Auto,
    Cpu,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    Cpu,
    Cuda,
}

/// The device a run actually uses, with why.
#[derive(Clone, Debug)]
pub struct Probed {
    pub device: Device,
    pub note: String,
}

/// Why no GPU can be used on this machine, or `None` if one can (the probe of
/// [`crate::gpu::cuda::Cuda::shared`], run once per process; it never panics).
pub fn cuda_unavailable_reason() -> Option<String> {
    crate::gpu::cuda::Cuda::shared().err()
}

/// The probed GPU's description (name, architecture, driver and NVRTC versions), if any.
pub fn cuda_description() -> Option<String> {
    crate::gpu::cuda::Cuda::shared().ok().map(|g| g.info.to_string())
}

/// Resolve the user's choice against what the machine has.
pub fn probe(choice: DeviceChoice) -> Result<Probed, BadInput> {
    match choice {
        DeviceChoice::Cpu => Ok(Probed { device: Device::Cpu, note: "cpu requested".into() }),
        DeviceChoice::Auto => match cuda_unavailable_reason() {
            None => {
                Ok(Probed { device: Device::Cuda, note: format!("auto: {}", cuda_description().unwrap_or_default()) })
            }
            Some(why) => Ok(Probed { device: Device::Cpu, note: format!("auto: no usable GPU ({why})") }),
        },
        DeviceChoice::Cuda => match cuda_unavailable_reason() {
            None => {
                Ok(Probed { device: Device::Cuda, note: format!("cuda: {}", cuda_description().unwrap_or_default()) })
            }
            Some(why) => Err(BadInput::new(format!(
                "--device cuda asked for, but no usable GPU: {why}; use --device cpu or auto"
            ))),
        },
    }
}

//! Data: the small real data sets shipped in `data/` (gzipped CSV, verified by sha256 on load),
//! loaders for user-provided standard files (MNIST IDX, CIFAR-10 binary) from `--data-dir`, and
//! synthetic generators.

pub mod files;
pub mod synthetic;

pub use files::{Dataset, Shipped, load_cifar10_bin, load_mnist_idx, load_shipped};

//! File-backed data sets. No network at run time: the shipped sets live in `data/`, the large
//! standard sets are read from a folder the user gives.
use crate::error::BadInput;
use anyhow::{Context, Result, bail};
use flate2::read::GzDecoder;
use ndarray::Array2;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Features (one row per sample) and labels (class index or regression target).
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Features, `n x p`: one row per sample.
    pub x: Array2<f64>,
    /// Labels, one per sample: a class index stored as `f64`, or a regression target.
    pub y: Vec<f64>,
    /// Names of the `p` feature columns.
    pub feature_names: Vec<String>,
}

impl Dataset {
    /// Number of samples (rows of `x`).
    pub fn n(&self) -> usize {
        self.x.nrows()
    }
    /// Labels as class indices (for classification sets).
    pub fn classes(&self) -> Vec<usize> {
        self.y.iter().map(|&v| v as usize).collect()
    }
    /// Number of classes: the largest class index plus one (0 when there are no samples).
    pub fn num_classes(&self) -> usize {
        self.classes().iter().max().map_or(0, |m| m + 1)
    }
    /// Standardize each feature to zero mean and unit variance (constant features left at 0).
    pub fn standardize(mut self) -> Self {
        for mut col in self.x.columns_mut() {
            let m = col.mean().unwrap_or(0.0);
            let sd = col.mapv(|v| (v - m) * (v - m)).mean().unwrap_or(0.0).sqrt();
            col.mapv_inplace(|v| if sd > 0.0 { (v - m) / sd } else { 0.0 });
        }
        self
    }
}

/// The data sets shipped in `data/` (see `data/SOURCES.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shipped {
    /// 1797 8x8 handwritten digits, pixels 0..16, 10 classes.
    Digits,
    /// 150 iris flowers, 4 features, 3 classes.
    Iris,
    /// 178 wines, 13 features, 3 classes.
    Wine,
    /// 569 breast-cancer samples, 30 features, 2 classes.
    BreastCancer,
    /// 442 diabetes patients, 10 raw features, a regression target.
    Diabetes,
}

impl Shipped {
    /// File name of the set inside `data/` (gzipped CSV).
    pub fn file(self) -> &'static str {
        match self {
            Shipped::Digits => "digits.csv.gz",
            Shipped::Iris => "iris.csv.gz",
            Shipped::Wine => "wine.csv.gz",
            Shipped::BreastCancer => "breast_cancer.csv.gz",
            Shipped::Diabetes => "diabetes.csv.gz",
        }
    }
    /// sha256 of the shipped file (also in data/SOURCES.md).
    pub fn sha256(self) -> &'static str {
        match self {
            Shipped::Digits => "763509aeeac94704a7e0eb9abbfc8452fd64a1061d049ed0ad59b848b4fcc05a",
            Shipped::Iris => "99f6df2a567ccdf930489df62a3747f60a450ba851c0252c8b1ab704583631ca",
            Shipped::Wine => "0dcda15d98fa91ee1654570d2d7d6b8c6a51841ce6caa85fbd45ea9da2557b31",
            Shipped::BreastCancer => "374623daffec3761add2d250415a579aaab0873d0f28a2b0ebb6d7744f6f8efe",
            Shipped::Diabetes => "a45b33e2dc696dd6b7d10493b7083df77d2e126c67350fc3c613b592c255b786",
        }
    }
    /// (rows, feature columns)
    pub fn shape(self) -> (usize, usize) {
        match self {
            Shipped::Digits => (1797, 64),
            Shipped::Iris => (150, 4),
            Shipped::Wine => (178, 13),
            Shipped::BreastCancer => (569, 30),
            Shipped::Diabetes => (442, 10),
        }
    }
}

/// The `data/` folder: `$REPRO_DATA_DIR` if set, else the workspace's own.
pub fn shipped_dir() -> PathBuf {
    std::env::var_os("REPRO_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../data"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse a CSV with a header row; the last column is the label/target.
pub fn parse_csv(text: &str) -> Result<Dataset> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines.next().context("empty CSV")?.split(',').map(|s| s.trim().to_string()).collect();
    let p = header.len().checked_sub(1).filter(|&p| p > 0).context("CSV needs at least one feature and a label")?;
    let mut vals = vec![];
    let mut y = vec![];
    for (i, l) in lines.enumerate() {
        let row: Vec<f64> = l
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .with_context(|| format!("row {}: not all numbers", i + 2))?;
        if row.len() != p + 1 {
            bail!("row {}: {} fields, expected {}", i + 2, row.len(), p + 1);
        }
        vals.extend_from_slice(&row[..p]);
        y.push(row[p]);
    }
    let n = y.len();
    Ok(Dataset { x: Array2::from_shape_vec((n, p), vals)?, y, feature_names: header[..p].to_vec() })
}

/// Load and verify a shipped data set from `dir`.
pub fn load_shipped_from(which: Shipped, dir: &Path) -> Result<Dataset> {
    let path = dir.join(which.file());
    let bytes =
        std::fs::read(&path).map_err(|e| BadInput::new(format!("missing data file {}: {e}", path.display())))?;
    let got = sha256_hex(&bytes);
    if got != which.sha256() {
        return Err(BadInput::new(format!(
            "data file {} is corrupt: sha256 {got}, expected {}",
            path.display(),
            which.sha256()
        ))
        .into());
    }
    let mut text = String::new();
    GzDecoder::new(&bytes[..]).read_to_string(&mut text).with_context(|| format!("gunzip {}", path.display()))?;
    let d = parse_csv(&text)?;
    anyhow::ensure!(
        (d.n(), d.x.ncols()) == which.shape(),
        "{}: shape {:?}, expected {:?}",
        which.file(),
        (d.n(), d.x.ncols()),
        which.shape()
    );
    Ok(d)
}

/// Load and verify a shipped data set.
pub fn load_shipped(which: Shipped) -> Result<Dataset> {
    load_shipped_from(which, &shipped_dir())
}

fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| BadInput::new(format!("missing data file {}: {e}", path.display())))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = vec![];
        GzDecoder::new(&raw[..]).read_to_end(&mut out)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(b: &[u8], at: usize) -> Result<usize> {
    let s = b.get(at..at + 4).context("truncated IDX header")?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

/// Read an MNIST IDX pair (`images` idx3-ubyte, `labels` idx1-ubyte; optionally gzipped).
/// Pixels are scaled to [0, 1].
pub fn load_mnist_idx(images: &Path, labels: &Path) -> Result<Dataset> {
    let im = read_maybe_gz(images)?;
    let lb = read_maybe_gz(labels)?;
    anyhow::ensure!(be_u32(&im, 0)? == 0x0803, "{}: not an IDX3 ubyte file", images.display());
    anyhow::ensure!(be_u32(&lb, 0)? == 0x0801, "{}: not an IDX1 ubyte file", labels.display());
    let (n, r, c) = (be_u32(&im, 4)?, be_u32(&im, 8)?, be_u32(&im, 12)?);
    anyhow::ensure!(be_u32(&lb, 4)? == n, "image and label counts differ");
    anyhow::ensure!(im.len() == 16 + n * r * c && lb.len() == 8 + n, "IDX files truncated");
    let x = Array2::from_shape_fn((n, r * c), |(i, j)| im[16 + i * r * c + j] as f64 / 255.0);
    let y = lb[8..].iter().map(|&v| v as f64).collect();
    Ok(Dataset { x, y, feature_names: (0..r * c).map(|j| format!("px{j}")).collect() })
}

/// Read CIFAR-10 binary batches (each record: 1 label byte + 3072 pixel bytes, CHW order).
/// Pixels are scaled to [0, 1].
pub fn load_cifar10_bin(files: &[PathBuf]) -> Result<Dataset> {
    const REC: usize = 1 + 3072;
    let mut xs = vec![];
    let mut y = vec![];
    for f in files {
        let b = read_maybe_gz(f)?;
        anyhow::ensure!(
            !b.is_empty() && b.len() % REC == 0,
            "{}: size {} is not a multiple of {REC}",
            f.display(),
            b.len()
        );
        for rec in b.chunks_exact(REC) {
            anyhow::ensure!(rec[0] < 10, "{}: label {} out of range", f.display(), rec[0]);
            y.push(rec[0] as f64);
            xs.extend(rec[1..].iter().map(|&v| v as f64 / 255.0));
        }
    }
    let n = y.len();
    Ok(Dataset {
        x: Array2::from_shape_vec((n, 3072), xs)?,
        y,
        feature_names: (0..3072).map(|j| format!("px{j}")).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn shipped_sets_verify_and_parse() {
        for s in [Shipped::Digits, Shipped::Iris, Shipped::Wine, Shipped::BreastCancer, Shipped::Diabetes] {
            let d = load_shipped(s).unwrap();
            assert_eq!((d.n(), d.x.ncols()), s.shape());
        }
        let d = load_shipped(Shipped::Digits).unwrap();
        assert_eq!(d.num_classes(), 10);
        assert!(d.x.iter().all(|&v| (0.0..=16.0).contains(&v)));
        assert_eq!(load_shipped(Shipped::Iris).unwrap().num_classes(), 3);
    }

    #[test]
    fn corrupt_or_missing_files_are_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_shipped_from(Shipped::Iris, dir.path()).unwrap_err();
        assert!(crate::error::is_bad_input(&e) && e.to_string().contains("missing data file"));
        std::fs::write(dir.path().join("iris.csv.gz"), b"junk").unwrap();
        let e = load_shipped_from(Shipped::Iris, dir.path()).unwrap_err();
        assert!(crate::error::is_bad_input(&e) && e.to_string().contains("corrupt"));
    }

    #[test]
    fn mnist_idx_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let (n, r, c) = (3usize, 2usize, 2usize);
        let mut im = vec![0, 0, 8, 3];
        for v in [n, r, c] {
            im.extend((v as u32).to_be_bytes());
        }
        im.extend((0..n * r * c).map(|k| (k * 20) as u8));
        let mut lb = vec![0, 0, 8, 1];
        lb.extend((n as u32).to_be_bytes());
        lb.extend([7u8, 0, 9]);
        let ip = dir.path().join("img.idx3-ubyte.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&im).unwrap();
        std::fs::write(&ip, gz.finish().unwrap()).unwrap();
        let lp = dir.path().join("lab.idx1-ubyte");
        std::fs::write(&lp, &lb).unwrap();
        let d = load_mnist_idx(&ip, &lp).unwrap();
        assert_eq!(d.x.dim(), (3, 4));
        assert_eq!(d.y, vec![7.0, 0.0, 9.0]);
        assert!((d.x[[1, 0]] - 80.0 / 255.0).abs() < 1e-15);
        std::fs::write(&lp, &lb[..10]).unwrap();
        assert!(load_mnist_idx(&ip, &lp).is_err());
    }

    #[test]
    fn cifar_bin_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = vec![];
        for lab in [3u8, 8] {
            b.push(lab);
            b.extend((0..3072).map(|k| (k % 256) as u8));
        }
        let p = dir.path().join("data_batch_1.bin");
        std::fs::write(&p, &b).unwrap();
        let d = load_cifar10_bin(std::slice::from_ref(&p)).unwrap();
        assert_eq!(d.x.dim(), (2, 3072));
        assert_eq!(d.y, vec![3.0, 8.0]);
        assert!((d.x[[1, 255]] - 1.0).abs() < 1e-15);
        std::fs::write(&p, &b[..100]).unwrap();
        assert!(load_cifar10_bin(&[p]).is_err());
    }
}

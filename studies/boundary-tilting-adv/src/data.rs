//! The data: two digit classes of the shipped 8×8 digits, balanced, split into train and test,
//! pixels scaled to [0, 1] and embedded in D = 64 + `flat_dims` by appending flat coordinates
//! (exactly zero, or i.i.d. N(0, σ²) noise). Label +1 is the second digit, −1 the first.

use anyhow::{Result, ensure};
use common::Seed;
use common::data::{Dataset, Shipped, load_shipped};
use common::rng::{gaussian_vec, permutation};

/// Samples per class in the shipped digits (classes 0..9), checked against the file on load.
pub const DIGIT_COUNTS: [usize; 10] = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];

/// Pixels per image (8 × 8).
pub const PIXELS: usize = 64;

/// Images (or embedded inputs), one row each.
pub type Rows = Vec<Vec<f64>>;

/// One train/test split in the embedded space: rows are samples, labels ±1.
#[derive(Clone, Debug)]
pub struct Split {
    /// Training inputs, one row each (length D).
    pub x_train: Vec<Vec<f64>>,
    /// Training labels (±1), balanced.
    pub y_train: Vec<f64>,
    /// Test inputs.
    pub x_test: Vec<Vec<f64>>,
    /// Test labels (±1).
    pub y_test: Vec<f64>,
}

impl Split {
    /// The embedding dimension D.
    pub fn dim(&self) -> usize {
        self.x_train.first().map_or(0, Vec::len)
    }
}

/// The images of one digit, pixels scaled by 1/16 into [0, 1].
pub fn digit_images(ds: &Dataset, digit: usize) -> Vec<Vec<f64>> {
    ds.x.rows()
        .into_iter()
        .zip(&ds.y)
        .filter(|(_, y)| (**y as usize) == digit)
        .map(|(r, _)| r.iter().map(|v| v / 16.0).collect())
        .collect()
}

/// Load the shipped digits and return the images of the two classes.
pub fn load_pair(a: usize, b: usize) -> Result<(Rows, Rows)> {
    let ds = load_shipped(Shipped::Digits)?;
    let (ia, ib) = (digit_images(&ds, a), digit_images(&ds, b));
    ensure!(ia.len() == DIGIT_COUNTS[a] && ib.len() == DIGIT_COUNTS[b], "digit counts differ from DIGIT_COUNTS");
    Ok((ia, ib))
}

/// Balance both classes to `per_class` images (a seeded subsample), put `train_per_class` of each
/// in the training set and the rest in the test set, and append `flat_dims` coordinates of
/// N(0, sigma²) noise (exactly 0 when `sigma` = 0). The subsample and the split depend on
/// `seed.child("split")` only, the noise on `seed.child("flat")`: the exact (σ = 0) and the noisy
/// variants of one seed share their images.
pub fn make_split(
    a: &[Vec<f64>],
    b: &[Vec<f64>],
    per_class: usize,
    train_per_class: usize,
    flat_dims: usize,
    sigma: f64,
    seed: Seed,
) -> Split {
    let mut rng = seed.child("split").rng();
    let pa = permutation(&mut rng, a.len());
    let pb = permutation(&mut rng, b.len());
    let mut noise = seed.child("flat").rng();
    let mut embed = |img: &[f64]| -> Vec<f64> {
        let mut v = img.to_vec();
        if sigma > 0.0 {
            v.extend(gaussian_vec(&mut noise, flat_dims, sigma).iter());
        } else {
            v.extend(std::iter::repeat_n(0.0, flat_dims));
        }
        v
    };
    let mut s = Split { x_train: vec![], y_train: vec![], x_test: vec![], y_test: vec![] };
    for (k, (&ia, &ib)) in pa.iter().zip(&pb).take(per_class).enumerate() {
        let (xa, xb) = (embed(&a[ia]), embed(&b[ib]));
        if k < train_per_class {
            s.x_train.extend([xa, xb]);
            s.y_train.extend([-1.0, 1.0]);
        } else {
            s.x_test.extend([xa, xb]);
            s.y_test.extend([-1.0, 1.0]);
        }
    }
    s
}

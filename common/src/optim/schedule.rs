//! Learning-rate (or any scalar) schedules, indexed by the 0-based step.
use serde::{Deserialize, Serialize};

/// A scalar as a function of the 0-based step `t` (the `t`-th update uses `value(t)`).
///
/// Serde: externally tagged (`{"constant": 0.1}`, `{"cosine": {"init": 0.1, "end": 0, "steps": 100}}`,
/// `{"cosine_restarts": {"init": 0.1, "end": 0, "period": 32, "mult": 2}}` (`mult` defaults to 1),
/// `{"sequence": [0.1, 0.2]}`); a bare number also deserializes, as `Constant`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", from = "Repr")]
pub enum Schedule {
    /// The same value at every step.
    Constant(f64),
    /// `init * factor^(number of milestones <= t)` (PyTorch's MultiStepLR).
    Step {
        /// The value before the first milestone.
        init: f64,
        /// Steps at which the value is multiplied by `factor`.
        milestones: Vec<usize>,
        /// The multiplier applied at each milestone.
        factor: f64,
    },
    /// Linear from `init` at `t = 0` to `end` at `t = steps`, then `end`.
    Linear {
        /// The value at `t = 0`.
        init: f64,
        /// The value from `t = steps` on.
        end: f64,
        /// Length of the ramp.
        steps: usize,
    },
    /// Cosine decay from `init` at `t = 0` to `end` at `t = steps`, then `end`
    /// (Loshchilov & Hutter, without restarts).
    Cosine {
        /// The value at `t = 0`.
        init: f64,
        /// The value from `t = steps` on.
        end: f64,
        /// Length of the decay.
        steps: usize,
    },
    /// Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017, eq. 5; PyTorch's
    /// `CosineAnnealingWarmRestarts(T_0 = period, T_mult = mult, eta_min = end)`): cycle `i` lasts
    /// `T_i = period · mult^i` steps; at step `t_cur` of its cycle the value is
    /// `end + (init − end) (1 + cos(π t_cur / T_i)) / 2`, so every restart (`t = 0`, `T_0`,
    /// `T_0 + T_1`, ...) is back at `init` and the value approaches `end` just before it.
    /// `period = 0` gives `end` at every step; `mult = 0` is read as 1 (PyTorch refuses both).
    CosineRestarts {
        /// The value at every restart.
        init: f64,
        /// The value approached at the end of each cycle.
        end: f64,
        /// Length `T_0` of the first cycle.
        period: usize,
        /// Factor `T_mult` between successive cycle lengths (1: equal cycles).
        mult: usize,
    },
    /// Linear warm-up from `init` at `t = 0` to `then`'s first value at `t = steps`, then `then`
    /// shifted by `steps` (`then.value(t - steps)`).
    Warmup {
        /// Length of the warm-up.
        steps: usize,
        /// The value at `t = 0`.
        init: f64,
        /// The schedule after the warm-up (its step 0 is `t = steps`).
        then: Box<Schedule>,
    },
    /// A user-given value per step; past the end, the last value (empty: 0).
    Sequence(Vec<f64>),
}

/// What deserializes into a [`Schedule`]: a bare number or the tagged form.
#[derive(Deserialize)]
#[serde(untagged)]
enum Repr {
    Number(f64),
    Tagged(Tagged),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Tagged {
    Constant(f64),
    Step {
        init: f64,
        milestones: Vec<usize>,
        factor: f64,
    },
    Linear {
        init: f64,
        end: f64,
        steps: usize,
    },
    Cosine {
        init: f64,
        end: f64,
        steps: usize,
    },
    CosineRestarts {
        init: f64,
        end: f64,
        period: usize,
        #[serde(default = "one")]
        mult: usize,
    },
    Warmup {
        steps: usize,
        init: f64,
        then: Box<Schedule>,
    },
    Sequence(Vec<f64>),
}

fn one() -> usize {
    1
}

impl From<Repr> for Schedule {
    fn from(r: Repr) -> Self {
        match r {
            Repr::Number(x) => Schedule::Constant(x),
            Repr::Tagged(t) => match t {
                Tagged::Constant(x) => Schedule::Constant(x),
                Tagged::Step { init, milestones, factor } => Schedule::Step { init, milestones, factor },
                Tagged::Linear { init, end, steps } => Schedule::Linear { init, end, steps },
                Tagged::Cosine { init, end, steps } => Schedule::Cosine { init, end, steps },
                Tagged::CosineRestarts { init, end, period, mult } => {
                    Schedule::CosineRestarts { init, end, period, mult }
                }
                Tagged::Warmup { steps, init, then } => Schedule::Warmup { steps, init, then },
                Tagged::Sequence(v) => Schedule::Sequence(v),
            },
        }
    }
}

impl From<f64> for Schedule {
    fn from(x: f64) -> Self {
        Schedule::Constant(x)
    }
}

impl Schedule {
    /// [`Schedule::Constant`].
    pub fn constant(x: f64) -> Self {
        Schedule::Constant(x)
    }
    /// [`Schedule::Step`].
    pub fn step(init: f64, milestones: Vec<usize>, factor: f64) -> Self {
        Schedule::Step { init, milestones, factor }
    }
    /// [`Schedule::Linear`].
    pub fn linear(init: f64, end: f64, steps: usize) -> Self {
        Schedule::Linear { init, end, steps }
    }
    /// [`Schedule::Cosine`].
    pub fn cosine(init: f64, end: f64, steps: usize) -> Self {
        Schedule::Cosine { init, end, steps }
    }
    /// [`Schedule::CosineRestarts`].
    pub fn cosine_restarts(init: f64, end: f64, period: usize, mult: usize) -> Self {
        Schedule::CosineRestarts { init, end, period, mult }
    }
    /// Prefix this schedule with a linear warm-up from 0 over `steps` steps.
    pub fn with_warmup(self, steps: usize) -> Self {
        Schedule::Warmup { steps, init: 0.0, then: Box::new(self) }
    }

    /// The value at the 0-based step `t`.
    pub fn value(&self, t: usize) -> f64 {
        match self {
            Schedule::Constant(x) => *x,
            Schedule::Step { init, milestones, factor } => {
                let k = milestones.iter().filter(|&&m| m <= t).count();
                init * factor.powi(k as i32)
            }
            Schedule::Linear { init, end, steps } => {
                if t >= *steps {
                    *end
                } else {
                    init + (end - init) * t as f64 / *steps as f64
                }
            }
            Schedule::Cosine { init, end, steps } => {
                if t >= *steps {
                    *end
                } else {
                    let c = 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / *steps as f64).cos());
                    end + (init - end) * c
                }
            }
            Schedule::CosineRestarts { init, end, period, mult } => {
                if *period == 0 {
                    return *end;
                }
                let (t_cur, t_i) = sgdr_position(t, *period, (*mult).max(1));
                let c = 0.5 * (1.0 + (std::f64::consts::PI * t_cur as f64 / t_i as f64).cos());
                end + (init - end) * c
            }
            Schedule::Warmup { steps, init, then } => {
                if t >= *steps {
                    then.value(t - steps)
                } else {
                    init + (then.value(0) - init) * t as f64 / *steps as f64
                }
            }
            Schedule::Sequence(v) => v.get(t).or(v.last()).copied().unwrap_or(0.0),
        }
    }

    /// The value at step 0 (the "base" learning rate).
    pub fn initial(&self) -> f64 {
        self.value(0)
    }

    /// The same schedule with every value multiplied by `c` (for learning-rate sweeps).
    pub fn scaled(&self, c: f64) -> Schedule {
        match self {
            Schedule::Constant(x) => Schedule::Constant(c * x),
            Schedule::Step { init, milestones, factor } => {
                Schedule::Step { init: c * init, milestones: milestones.clone(), factor: *factor }
            }
            Schedule::Linear { init, end, steps } => Schedule::Linear { init: c * init, end: c * end, steps: *steps },
            Schedule::Cosine { init, end, steps } => Schedule::Cosine { init: c * init, end: c * end, steps: *steps },
            Schedule::CosineRestarts { init, end, period, mult } => {
                Schedule::CosineRestarts { init: c * init, end: c * end, period: *period, mult: *mult }
            }
            Schedule::Warmup { steps, init, then } => {
                Schedule::Warmup { steps: *steps, init: c * init, then: Box::new(then.scaled(c)) }
            }
            Schedule::Sequence(v) => Schedule::Sequence(v.iter().map(|x| c * x).collect()),
        }
    }
}

/// `(t_cur, T_i)`: the step within its cycle and the cycle's length, for cycles
/// `T_i = period · mult^i` (`period >= 1`, `mult >= 1`).
fn sgdr_position(t: usize, period: usize, mult: usize) -> (usize, usize) {
    if mult == 1 {
        return (t % period, period);
    }
    // Cycles grow geometrically: at most ~64 of them before overflow, so a loop is cheap.
    let (mut start, mut len) = (0usize, period);
    loop {
        match start.checked_add(len) {
            Some(next) if next <= t => {
                start = next;
                len = len.saturating_mul(mult);
            }
            _ => return (t - start, len),
        }
    }
}

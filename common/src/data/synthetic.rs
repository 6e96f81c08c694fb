//! Synthetic generators (teacher-student, Gaussian mixtures, matrix sensing, modular arithmetic).

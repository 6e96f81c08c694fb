//! Linear algebra: dense helpers over ndarray with faer for factorizations and
//! eigen-decompositions; matrix-free operators and Krylov methods.

pub mod dense;

pub use dense::{eigh, eigvalsh, qr, singular_values};

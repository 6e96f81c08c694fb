//! Study `batch-hessian-rmt`: under construction.

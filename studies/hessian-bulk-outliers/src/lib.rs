//! Study `hessian-bulk-outliers`: under construction.

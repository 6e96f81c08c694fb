//! See ARCHITECTURE.md, layer `train`.

//! See ARCHITECTURE.md, layer `optim`.

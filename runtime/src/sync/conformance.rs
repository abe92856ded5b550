//! The behaviour every [`Coordinator`] backend must have.
use std::sync::Arc;

use super::Coordinator;

/// Runs every check.
pub async fn run(_new: impl Fn() -> Arc<dyn Coordinator>) {}

//! Layers a program wraps around a boxed stack (client calls, server requests), kept as
//! functions so builders need no type parameter per layer.

use std::fmt;
use std::sync::Arc;

/// Wrappers of a boxed service `S`, applied in the order added (the last is outermost).
pub(crate) struct Layers<S> {
    wraps: Vec<Arc<dyn Fn(S) -> S + Send + Sync>>,
}

impl<S> Layers<S> {
    /// Adds the outermost wrapper.
    pub(crate) fn push(&mut self, wrap: impl Fn(S) -> S + Send + Sync + 'static) {
        self.wraps.push(Arc::new(wrap));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.wraps.is_empty()
    }

    /// `inner` wrapped in every layer.
    pub(crate) fn apply(&self, inner: S) -> S {
        self.wraps.iter().fold(inner, |inner, wrap| wrap(inner))
    }
}

impl<S> Default for Layers<S> {
    fn default() -> Self {
        Layers { wraps: Vec::new() }
    }
}

impl<S> Clone for Layers<S> {
    fn clone(&self) -> Self {
        Layers {
            wraps: self.wraps.clone(),
        }
    }
}

impl<S> fmt::Debug for Layers<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} layers", self.wraps.len())
    }
}

//! The published draws' scopes, kept: where a business stood in each
//! ([`crate::standing`]), built from a draw's frozen inputs the first time
//! anyone asks, so the public search can tell it.
//!
//! It is the desk's, not the public pages', because it reads the
//! confidential inputs (the frozen pools, the confidential bundle) to say so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{blocking, Desk, TaskError};
use crate::pools::{load_path, LoadOptions};
use crate::standing::DrawScope;

/// The scopes kept, by bundle name, and the names in the order they came.
type Kept = (HashMap<String, Arc<DrawScope>>, Vec<String>);

/// The scopes built so far, by bundle name. A draw's scope never changes
/// (its inputs are frozen), so one is built once and kept, the oldest let
/// go once they hold more than [`ScopeCache::KEPT_TARGETS`] targets in all
/// (about 20 bytes a target): some fifty county draws, or the newest one
/// national draw. A build runs on a low-priority thread, one at a time.
#[derive(Debug, Default)]
pub struct ScopeCache {
    kept: Mutex<Kept>,
    /// Held by the one build under way: a crowd asking about a draw whose
    /// scope is not yet known costs one build, not one each.
    building: tokio::sync::Mutex<()>,
}

impl ScopeCache {
    pub const KEPT_TARGETS: usize = 4_000_000;

    pub fn get(&self, bundle: &str) -> Option<Arc<DrawScope>> {
        self.lock().0.get(bundle).cloned()
    }

    pub fn keep(&self, bundle: &str, scope: Arc<DrawScope>) {
        let mut kept = self.lock();
        let (map, order) = &mut *kept;
        if map.insert(bundle.to_owned(), scope).is_none() {
            order.push(bundle.to_owned());
        }
        let mut targets: usize = map.values().map(|scope| scope.len()).sum();
        while targets > Self::KEPT_TARGETS && order.len() > 1 {
            let oldest = order.remove(0);
            targets -= map.remove(&oldest).map_or(0, |scope| scope.len());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Desk {
    /// The scope of the published draw `bundle`, built from its frozen
    /// inputs the first time it is asked for.
    pub async fn draw_scope(&self, bundle: &str) -> Result<Arc<DrawScope>, TaskError> {
        if let Some(scope) = self.scopes.get(bundle) {
            return Ok(scope);
        }
        let _one = self.scopes.building.lock().await;
        if let Some(scope) = self.scopes.get(bundle) {
            return Ok(scope);
        }
        self.ensure_cached(bundle).await?;
        let dir = self.publications_dir.join(bundle);
        let stored = blocking(move || Ok(crate::bundle::read(&dir)?)).await?;
        let snapshot = self.snapshot_pools(&stored.manifest.snapshot_combined).await?;
        let scope = blocking(move || {
            let pools = load_path(&snapshot, LoadOptions::default()).map_err(TaskError::Pools)?;
            DrawScope::of(&stored, &pools).map_err(|e| TaskError::Invalid(format!("the draw's scope: {e}")))
        })
        .await?;
        let scope = Arc::new(scope);
        self.scopes.keep(bundle, Arc::clone(&scope));
        Ok(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CreditCode;
    use crate::standing::Standing;

    fn scope_of(targets: usize) -> Arc<DrawScope> {
        Arc::new(DrawScope::from_parts(
            vec![a_code(); targets],
            vec![Standing::NotListed; targets],
        ))
    }

    fn a_code() -> CreditCode {
        let mut code = b"91520281MA6DWXY3K".to_vec();
        code.push(crate::ids::credit_check_char(&code).unwrap());
        CreditCode::parse(std::str::from_utf8(&code).unwrap()).unwrap()
    }

    #[test]
    fn the_oldest_scopes_go_first_and_the_newest_always_stays() {
        let cache = ScopeCache::default();
        let half = ScopeCache::KEPT_TARGETS / 2;
        cache.keep("a", scope_of(half));
        cache.keep("b", scope_of(half));
        assert!(cache.get("a").is_some() && cache.get("b").is_some());
        cache.keep("c", scope_of(1));
        assert!(cache.get("a").is_none(), "over the budget, the oldest goes");
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        cache.keep("huge", scope_of(ScopeCache::KEPT_TARGETS + 1));
        assert!(cache.get("huge").is_some(), "the newest stays, however large");
        assert!(cache.get("b").is_none() && cache.get("c").is_none());
    }
}

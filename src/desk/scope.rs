//! The published draws' scopes, kept: where a business stood in each
//! ([`crate::standing`]), built from a draw's frozen inputs the first time
//! anyone asks, so the public search can tell it.
//!
//! It is the desk's, not the public pages', because it reads the
//! confidential inputs (the frozen pools, the confidential bundle) to say so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{blocking, Desk, TaskError};
use crate::ids::CreditCode;
use crate::pools::{load_path, LoadOptions};
use crate::standing::DrawScope;

/// The scopes kept, by bundle name, and the names in the order they came.
type Kept = (HashMap<String, Arc<DrawScope>>, Vec<String>);

/// The scopes built so far, by bundle name. A draw's scope never changes
/// (its inputs are frozen), so one is built once and kept. Draws on the
/// same snapshot share its list of codes (18 bytes a target), each keeping
/// only its standings (2 bytes a target); the oldest are let go once all
/// hold more than [`ScopeCache::KEPT_BYTES`]: some hundred county draws,
/// or three or four national draws on one snapshot (180 MB of codes and
/// 20 MB a draw). A build runs on a low-priority thread, one at a time.
#[derive(Debug)]
pub struct ScopeCache {
    kept: Mutex<Kept>,
    /// Held by the one build under way: a crowd asking about a draw whose
    /// scope is not yet known costs one build, not one each.
    building: tokio::sync::Mutex<()>,
    /// How many bytes the kept scopes may hold.
    budget: usize,
    /// The builds that failed, when and why, by bundle name.
    failures: Mutex<HashMap<String, (Instant, String)>>,
}

impl Default for ScopeCache {
    fn default() -> Self {
        ScopeCache::with_budget(Self::KEPT_BYTES)
    }
}

impl ScopeCache {
    pub const KEPT_BYTES: usize = 256 << 20;

    fn with_budget(budget: usize) -> Self {
        ScopeCache {
            kept: Mutex::default(),
            building: tokio::sync::Mutex::default(),
            budget,
            failures: Mutex::default(),
        }
    }

    /// How long a failed build is not tried again.
    pub const RETRY_AFTER: Duration = Duration::from_secs(60);

    /// Why the build of `bundle` failed, if it did within [`Self::RETRY_AFTER`].
    fn failed_lately(&self, bundle: &str) -> Option<String> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (at, why) = failures.get(bundle)?;
        (at.elapsed() < Self::RETRY_AFTER).then(|| why.clone())
    }

    fn failed(&self, bundle: &str, why: String) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.insert(bundle.to_owned(), (Instant::now(), why));
    }

    pub fn get(&self, bundle: &str) -> Option<Arc<DrawScope>> {
        self.lock().0.get(bundle).cloned()
    }

    /// Keeps `scope` as that of `bundle`, sharing the list of codes of a
    /// draw already kept on the same snapshot.
    pub fn keep(&self, bundle: &str, scope: DrawScope) -> Arc<DrawScope> {
        let mut kept = self.lock();
        let (map, order) = &mut *kept;
        let mut scope = scope;
        for other in map.values() {
            match scope.sharing(other.codes()) {
                Ok(shared) => {
                    scope = shared;
                    break;
                }
                Err(own) => scope = own,
            }
        }
        let scope = Arc::new(scope);
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(bundle);
        if map.insert(bundle.to_owned(), Arc::clone(&scope)).is_none() {
            order.push(bundle.to_owned());
        }
        while bytes(map) > self.budget && order.len() > 1 {
            let oldest = order.remove(0);
            map.remove(&oldest);
        }
        scope
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The bytes the kept scopes hold: each shared list of codes counted once.
fn bytes(map: &HashMap<String, Arc<DrawScope>>) -> usize {
    let mut lists: Vec<*const CreditCode> = Vec::new();
    let mut total = 0;
    for scope in map.values() {
        total += scope.own_bytes();
        let list = scope.codes().as_ptr();
        if !lists.contains(&list) {
            lists.push(list);
            total += scope.len() * std::mem::size_of::<CreditCode>();
        }
    }
    total
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
        // A build that failed is not tried again at every request, nor
        // logged at each: anonymous clients asking cannot make it work.
        if let Some(why) = self.scopes.failed_lately(bundle) {
            return Err(TaskError::Invalid(why));
        }
        match self.build_scope(bundle).await {
            Ok(scope) => Ok(self.scopes.keep(bundle, scope)),
            Err(error) => {
                tracing::warn!(draw = %bundle, %error, "the scope of a published draw could not be told");
                self.scopes.failed(bundle, error.to_string());
                Err(error)
            }
        }
    }

    async fn build_scope(&self, bundle: &str) -> Result<DrawScope, TaskError> {
        self.ensure_cached(bundle).await?;
        let dir = self.publications_dir.join(bundle);
        let stored = blocking(move || Ok(crate::bundle::read(&dir)?)).await?;
        let snapshot = self.snapshot_pools(&stored.manifest.snapshot_combined).await?;
        blocking(move || {
            let pools = load_path(&snapshot, LoadOptions::default()).map_err(TaskError::Pools)?;
            DrawScope::of(&stored, &pools).map_err(|e| TaskError::Invalid(format!("the draw's scope: {e}")))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standing::Standing;

    /// A scope of `targets` targets on snapshot `k`: its list of codes is
    /// equal to every other scope's on `k`.
    fn scope_of(k: u8, targets: usize) -> DrawScope {
        DrawScope::from_parts(vec![code(k); targets], vec![Standing::NotListed; targets])
    }

    fn code(k: u8) -> CreditCode {
        let mut code = format!("91520281MA6DWXY{k:02}").into_bytes();
        code.push(crate::ids::credit_check_char(&code).unwrap());
        CreditCode::parse(std::str::from_utf8(&code).unwrap()).unwrap()
    }

    /// 20 bytes a target: 18 of its code, 2 of its standing.
    const PER_TARGET: usize = 20;

    #[test]
    fn the_oldest_scopes_go_first_and_the_newest_always_stays() {
        let cache = ScopeCache::with_budget(1000 * PER_TARGET);
        cache.keep("a", scope_of(1, 400));
        cache.keep("b", scope_of(2, 400));
        assert!(cache.get("a").is_some() && cache.get("b").is_some());
        cache.keep("c", scope_of(3, 400));
        assert!(cache.get("a").is_none(), "over the budget, the oldest goes");
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        cache.keep("huge", scope_of(4, 2000));
        assert!(cache.get("huge").is_some(), "the newest stays, however large");
        assert!(cache.get("b").is_none() && cache.get("c").is_none());
    }

    #[test]
    fn draws_on_one_snapshot_share_its_codes() {
        // Two draws of 450 targets on one snapshot: 450 × 18 + 2 × 450 × 2
        // bytes shared, within the budget; 2 × 450 × 20 apart, beyond it.
        let cache = ScopeCache::with_budget(500 * PER_TARGET);
        let first = cache.keep("a", scope_of(1, 450));
        let second = cache.keep("b", scope_of(1, 450));
        assert!(Arc::ptr_eq(first.codes(), second.codes()), "one list of codes");
        assert!(cache.get("a").is_some() && cache.get("b").is_some(), "counted once");
        let other = cache.keep("c", scope_of(2, 450));
        assert!(
            !Arc::ptr_eq(other.codes(), second.codes()),
            "another snapshot's are its own"
        );
        assert!(cache.get("a").is_none(), "and count in full");
    }

    #[test]
    fn a_failed_build_is_remembered_until_a_scope_is_kept() {
        let cache = ScopeCache::default();
        assert_eq!(cache.failed_lately("a"), None);
        cache.failed("a", "the snapshot is not in the database".into());
        assert_eq!(
            cache.failed_lately("a").as_deref(),
            Some("the snapshot is not in the database"),
            "not tried again at once"
        );
        assert_eq!(cache.failed_lately("b"), None, "other draws are not affected");
        cache.keep("a", scope_of(1, 1));
        assert_eq!(cache.failed_lately("a"), None, "a kept scope clears it");
    }
}

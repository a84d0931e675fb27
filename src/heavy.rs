//! Heavy work — reading and hashing a pool, a draw, storing a snapshot, a
//! verification — runs below the requests in CPU priority, so that while a
//! national-scale draw takes its seconds the public pages and the read API
//! keep answering: when both want the cores, the kernel gives them to the
//! requests first, and the draw takes what is left.
//!
//! Each piece of heavy work gets a thread of its own at [`NICE`]; the
//! threads of the parallel parts of a draw (rayon's pool) are set to it
//! when the service starts ([`lower_parallel_work`]). Nothing else changes:
//! on an idle machine the work runs as fast as before.
//!
//! A national load also takes its memory in small pages
//! ([`small_pages_for`]): on the 2-core machine they faulted in faster.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

/// How much nicer heavy work is than the service: the kernel's weight for
/// it is about a tenth of a request thread's.
pub const NICE: i32 = 10;

/// Runs `work` on a thread of its own at low priority. It starts at once,
/// before the returned future is awaited, and the future yields what it
/// returned, or the payload of its panic.
pub fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> impl Future<Output = std::thread::Result<T>> {
    let (done, outcome) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("shuangsui-heavy".into())
        .spawn(move || {
            lower_this_thread();
            let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(work)));
        })
        .expect("the system gives a thread for heavy work");
    async move { outcome.await.expect("the thread sends its outcome before it ends") }
}

/// What a panic said, for a message.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_owned(),
        (_, Some(text)) => text.clone(),
        _ => "a panic without a message".to_owned(),
    }
}

/// From this size on, a target directory is read with small pages only
/// ([`small_pages_for`]).
pub const SMALL_PAGES_FROM: usize = 256 << 20;

/// Asks the kernel for small pages only, for the rest of the process, once
/// a target directory of `bytes` is about to be read, when it is of
/// national size. Such a load touches a gigabyte of fresh memory, and a
/// transparent huge page is zeroed whole at its first touch: on the 2-core
/// machine, in the hours when faulting memory in was slow, the
/// 10,000,000-target draw was 9–19% slower with huge pages, and in the
/// others no faster (README, "Speed"); a county's load, a few dozen
/// megabytes, is faster with them. Best effort: where it fails, loads are
/// only slower.
pub fn small_pages_for(bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= SMALL_PAGES_FROM {
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

/// Sets rayon's global pool, which the parallel parts of loading and
/// drawing use, to start its threads at low priority. Only the first call in
/// a process takes effect, and only before anything has used the pool.
pub fn lower_parallel_work() {
    let built = rayon::ThreadPoolBuilder::new()
        .thread_name(|n| format!("shuangsui-parallel-{n}"))
        .start_handler(|_| lower_this_thread())
        .build_global();
    if let Err(e) = built {
        tracing::debug!(error = %e, "rayon's pool was set up already; its threads keep their priority");
    }
}

/// Lowers the calling thread's priority by [`NICE`] (to 19 at most). On
/// Linux the nice value belongs to the thread, not the process, so the async
/// workers and the blocking threads serving requests keep theirs. Where it
/// cannot be lowered the work simply runs at the usual priority.
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let thread = Some(rustix::thread::gettid());
        let lowered = getpriority_process(thread).and_then(|now| setpriority_process(thread, (now + NICE).min(19)));
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "heavy work keeps the usual priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn only_a_national_load_gives_up_huge_pages() {
        use rustix::thread::transparent_huge_pages_are_disabled as disabled;
        // The flag is the process's: only this test in this binary sets it.
        let before = disabled().unwrap();
        small_pages_for(SMALL_PAGES_FROM - 1);
        assert_eq!(disabled().unwrap(), before, "a county-size load keeps huge pages");
        small_pages_for(SMALL_PAGES_FROM);
        assert!(disabled().unwrap(), "a national-size load takes small pages");
    }

    #[tokio::test]
    async fn work_runs_below_the_caller_and_gives_back_its_outcome_or_panic() {
        #[cfg(target_os = "linux")]
        {
            let own = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
            let here = own();
            let there = run(own).await.unwrap();
            assert_eq!(there, (here + NICE).min(19), "from {here}");
            assert_eq!(own(), here, "the caller's own priority is unchanged");
        }
        assert_eq!(run(|| 6 * 7).await.unwrap(), 42);
        let panicked = run(|| -> u32 { panic!("a heavy failure") }).await.unwrap_err();
        assert_eq!(panic_message(&*panicked), "a heavy failure");
    }

    #[tokio::test]
    async fn the_work_starts_before_it_is_awaited() {
        let (tx, rx) = std::sync::mpsc::channel();
        let pending = run(move || tx.send(()).unwrap());
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the work ran without being awaited");
        pending.await.unwrap();
    }
}

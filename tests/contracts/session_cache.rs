//! Contract of `SessionCache`.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use noetl_gateway::domain::SessionToken;
use noetl_gateway::ports::SessionCache;

use super::session;

pub async fn run<C, F, Fut>(make: F)
where
    C: SessionCache,
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = C>,
{
    let cache = make(Duration::from_secs(60)).await;
    let a = SessionToken::parse("token-a").unwrap().key();
    let b = SessionToken::parse("token-b").unwrap().key();
    let mut changes = cache.invalidations().await.unwrap();

    assert_eq!(
        cache.get(&a).await.unwrap(),
        None,
        "absent key reads as None"
    );
    cache.put(&a, &session(1)).await.unwrap();
    cache.put(&b, &session(2)).await.unwrap();
    assert_eq!(cache.get(&a).await.unwrap(), Some(session(1)));
    assert_eq!(
        cache.get(&b).await.unwrap(),
        Some(session(2)),
        "keys are independent"
    );

    cache.put(&a, &session(3)).await.unwrap();
    assert_eq!(
        cache.get(&a).await.unwrap(),
        Some(session(3)),
        "put replaces"
    );
    let replaced = tokio::time::timeout(Duration::from_secs(2), changes.next()).await;
    assert_eq!(
        replaced.ok().flatten(),
        Some(a.clone()),
        "a replacement is announced"
    );

    cache.remove(&a).await.unwrap();
    assert_eq!(cache.get(&a).await.unwrap(), None, "remove deletes");
    let removed = tokio::time::timeout(Duration::from_secs(2), changes.next()).await;
    assert_eq!(
        removed.ok().flatten(),
        Some(a.clone()),
        "a removal is announced"
    );
    cache
        .remove(&a)
        .await
        .expect("removing an absent key succeeds");
    assert_eq!(
        cache.get(&b).await.unwrap(),
        Some(session(2)),
        "other keys survive a removal"
    );

    let short = make(Duration::from_millis(300)).await;
    short.put(&a, &session(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        short.get(&a).await.unwrap(),
        None,
        "entries expire after the TTL"
    );
}

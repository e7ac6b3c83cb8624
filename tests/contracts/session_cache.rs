//! Contract of `SessionCache`.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use noetl_gateway::domain::{SessionKey, SessionToken};
use noetl_gateway::ports::{CacheLookup, Invalidation, InvalidationStream, SessionCache};

use super::session;

/// Waits up to 3 s for `key` (or a whole-cache reset) among the changes.
async fn announced(changes: &mut InvalidationStream, key: &SessionKey) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        match tokio::time::timeout_at(deadline, changes.next()).await {
            Ok(Some(Invalidation::Key(k))) if &k == key => return true,
            Ok(Some(Invalidation::All)) => return true,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return false,
        }
    }
}

pub async fn run<C, F, Fut>(make: F)
where
    C: SessionCache,
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = C>,
{
    let cache = make(Duration::from_secs(60)).await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let a = SessionToken::parse(&format!("token-a-{unique}"))
        .unwrap()
        .key();
    let b = SessionToken::parse(&format!("token-b-{unique}"))
        .unwrap()
        .key();
    let mut changes = cache.invalidations().await.unwrap();

    assert_eq!(
        cache.get(&a).await.unwrap(),
        CacheLookup::Miss,
        "an absent key is a miss"
    );
    cache.put(&a, &session(1)).await.unwrap();
    cache.put(&b, &session(2)).await.unwrap();
    assert_eq!(cache.get(&a).await.unwrap(), CacheLookup::Hit(session(1)));
    assert_eq!(
        cache.get(&b).await.unwrap(),
        CacheLookup::Hit(session(2)),
        "keys are independent"
    );

    cache.put(&a, &session(3)).await.unwrap();
    assert_eq!(
        cache.get(&a).await.unwrap(),
        CacheLookup::Hit(session(3)),
        "put replaces"
    );
    assert!(
        announced(&mut changes, &a).await,
        "a replacement is announced"
    );

    cache.remove(&a).await.unwrap();
    assert_eq!(
        cache.get(&a).await.unwrap(),
        CacheLookup::Miss,
        "remove deletes"
    );
    assert!(announced(&mut changes, &a).await, "a removal is announced");
    cache
        .remove(&a)
        .await
        .expect("removing an absent key succeeds");
    assert_eq!(
        cache.get(&b).await.unwrap(),
        CacheLookup::Hit(session(2)),
        "other keys survive a removal"
    );

    cache.revoke(&b).await.unwrap();
    assert_eq!(
        cache.get(&b).await.unwrap(),
        CacheLookup::Revoked,
        "a revoked key reads as revoked"
    );
    assert!(
        announced(&mut changes, &b).await,
        "a revocation is announced"
    );
    cache.put(&b, &session(2)).await.unwrap();
    assert_eq!(
        cache.get(&b).await.unwrap(),
        CacheLookup::Revoked,
        "a revocation outlives a later write"
    );

    let short = make(Duration::from_secs(1)).await;
    short.put(&a, &session(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        short.get(&a).await.unwrap(),
        CacheLookup::Miss,
        "entries expire after the TTL"
    );
}

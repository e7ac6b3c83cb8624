//! Contract of `RequestStore`.

use std::future::Future;
use std::time::Duration;

use noetl_gateway::domain::{
    ClientId, ExecutionId, IdempotencyKey, IdempotentRecord, PendingRequest, PlaybookPath,
    RequestId, SessionToken,
};
use noetl_gateway::ports::RequestStore;

fn pending(request: &str, client: &str, created_at: i64) -> PendingRequest {
    PendingRequest {
        request_id: RequestId::parse(request).unwrap(),
        client_id: ClientId::parse(client).unwrap(),
        session_owner: "ab".repeat(32),
        execution_id: ExecutionId::parse(&format!(
            "5831406{}",
            request.len() * 1000 + usize::from(request.as_bytes()[request.len() - 1])
        ))
        .unwrap(),
        playbook_path: PlaybookPath::parse("tests/echo").unwrap(),
        created_at,
        completed: false,
    }
}

pub async fn run<S, F, Fut>(make: F)
where
    S: RequestStore,
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = S>,
{
    let store = make(Duration::from_secs(60)).await;
    let r1 = pending("req-1", "client-a", 10);
    let r2 = pending("req-2", "client-a", 5);
    let r3 = pending("req-3", "client-b", 7);
    assert_eq!(store.get(&r1.request_id).await.unwrap(), None);
    for r in [&r1, &r2, &r3] {
        store.put(r).await.unwrap();
    }
    assert_eq!(store.get(&r1.request_id).await.unwrap(), Some(r1.clone()));
    assert_eq!(
        store.by_execution(&r3.execution_id).await.unwrap(),
        Some(r3.clone()),
        "found by execution"
    );
    assert_ne!(r1.execution_id, r3.execution_id);
    let a = store.pending_for_client(&r1.client_id).await.unwrap();
    assert_eq!(
        a,
        vec![r2.clone(), r1.clone()],
        "only that client's requests, oldest first"
    );
    store.remove(&r2.request_id).await.unwrap();
    store
        .remove(&r2.request_id)
        .await
        .expect("removing twice succeeds");
    assert_eq!(store.get(&r2.request_id).await.unwrap(), None);
    assert_eq!(
        store.pending_for_client(&r1.client_id).await.unwrap(),
        vec![r1.clone()]
    );
    assert!(
        store
            .pending_for_client(&ClientId::parse("nobody").unwrap())
            .await
            .unwrap()
            .is_empty()
    );

    let owner = SessionToken::parse("owner-token").unwrap().key();
    let intruder = SessionToken::parse("intruder-token").unwrap().key();
    let tab = ClientId::parse(&format!("tab-{}", uuid::Uuid::new_v4().simple())).unwrap();
    assert!(
        store.claim_client(&tab, &owner).await.unwrap(),
        "the first session claims a client id"
    );
    assert!(
        store.claim_client(&tab, &owner).await.unwrap(),
        "and keeps it"
    );
    assert!(
        !store.claim_client(&tab, &intruder).await.unwrap(),
        "another session cannot take it"
    );
    let key =
        IdempotencyKey::parse(&format!("k-{}", uuid::Uuid::new_v4().simple()), &owner).unwrap();
    let first = IdempotentRecord {
        execution_id: ExecutionId::parse("101").unwrap(),
        request_id: Some(RequestId::parse("req-101").unwrap()),
        playbook_path: PlaybookPath::parse("tests/echo").unwrap(),
    };
    let second = IdempotentRecord {
        execution_id: ExecutionId::parse("102").unwrap(),
        ..first.clone()
    };
    assert_eq!(store.idempotent_get(&key).await.unwrap(), None);
    assert_eq!(store.idempotent_put(&key, &first).await.unwrap(), first);
    assert_eq!(
        store.idempotent_put(&key, &second).await.unwrap(),
        first,
        "the first record wins"
    );
    assert_eq!(store.idempotent_get(&key).await.unwrap(), Some(first));

    let short = make(Duration::from_millis(300)).await;
    short.put(&r3).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        short.get(&r3.request_id).await.unwrap(),
        None,
        "entries expire after the TTL"
    );
    assert!(
        short
            .pending_for_client(&r3.client_id)
            .await
            .unwrap()
            .is_empty()
    );
}

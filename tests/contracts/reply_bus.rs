//! Contract of `ReplyBus`: a reply reaches its waiter, the waiter's verdict reaches the
//! deliverer, and a dropped waiter is no waiter.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use noetl_gateway::domain::{AuthReply, RequestId};
use noetl_gateway::ports::{ReplyBus, ReplyOutcome};

fn reply(request: &RequestId, success: bool) -> AuthReply {
    AuthReply {
        request_id: request.clone(),
        execution_id: None,
        step: None,
        success,
        data: serde_json::json!({"n": 1}),
    }
}

pub async fn run<B, F, Fut>(make: F)
where
    B: ReplyBus,
    F: Fn() -> Fut,
    Fut: Future<Output = B>,
{
    let bus = make().await;
    let request = RequestId::generate();
    assert_eq!(
        bus.deliver(reply(&request, true)).await.unwrap(),
        ReplyOutcome::NoWaiter
    );

    let mut waiting = bus.subscribe(&request).await.unwrap();
    let judge = tokio::spawn(async move {
        let first = waiting.next().await.expect("first reply");
        assert!(!first.reply.success);
        let _ = first.verdict.send(false);
        let second = waiting.next().await.expect("second reply");
        assert!(second.reply.success);
        let _ = second.verdict.send(true);
        waiting
    });
    assert_eq!(
        bus.deliver(reply(&request, false)).await.unwrap(),
        ReplyOutcome::Refused
    );
    assert_eq!(
        bus.deliver(reply(&request, true)).await.unwrap(),
        ReplyOutcome::Accepted
    );
    let waiting = tokio::time::timeout(Duration::from_secs(5), judge)
        .await
        .unwrap()
        .unwrap();

    let other = RequestId::generate();
    assert_eq!(
        bus.deliver(reply(&other, true)).await.unwrap(),
        ReplyOutcome::NoWaiter,
        "ids are isolated"
    );

    drop(waiting);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        bus.deliver(reply(&request, true)).await.unwrap(),
        ReplyOutcome::NoWaiter,
        "dropping unregisters"
    );
}

/// A reply delivered on one bus instance reaches the waiter registered on another, and the
/// waiter's verdict travels back.
pub async fn across<B: ReplyBus>(waiting_side: B, delivering_side: B) {
    let request = RequestId::generate();
    let mut waiting = waiting_side.subscribe(&request).await.unwrap();
    let judge = tokio::spawn(async move {
        let incoming = waiting.next().await.expect("the reply crosses over");
        assert_eq!(incoming.reply.data, serde_json::json!({"n": 1}));
        let _ = incoming.verdict.send(true);
        waiting
    });
    assert_eq!(
        delivering_side
            .deliver(reply(&request, true))
            .await
            .unwrap(),
        ReplyOutcome::Accepted
    );
    let waiting = tokio::time::timeout(Duration::from_secs(5), judge)
        .await
        .unwrap()
        .unwrap();
    drop(waiting);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        delivering_side
            .deliver(reply(&request, true))
            .await
            .unwrap(),
        ReplyOutcome::NoWaiter,
        "a dropped remote waiter is no waiter"
    );
}

//! Contract of `EventLog`: replay after a cursor, then live, in order, each once, per client.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use noetl_gateway::domain::{ClientEvent, ClientId, EventCursor, LoggedEvent, RequestId};
use noetl_gateway::ports::{EventLog, EventStream};

fn progress(n: u32) -> ClientEvent {
    ClientEvent::Progress {
        request_id: RequestId::parse(&format!("req-{n}")).unwrap(),
        execution_id: None,
        step: Some("s".into()),
        message: Some(format!("m{n}")),
        progress: Some(serde_json::json!(n)),
        trace: None,
    }
}

async fn take(stream: &mut EventStream, n: usize) -> Vec<LoggedEvent> {
    let mut out = Vec::new();
    for _ in 0..n {
        let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("an event arrives within 5 s")
            .expect("the stream stays open")
            .expect("no error");
        out.push(next);
    }
    out
}

async fn nothing_more(stream: &mut EventStream) {
    let extra = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(extra.is_err(), "no further event: {extra:?}");
}

pub async fn run<L, F, Fut>(make: F)
where
    L: EventLog,
    F: Fn() -> Fut,
    Fut: Future<Output = L>,
{
    let log = make().await;
    let a = ClientId::parse(&format!("client-a-{}", uuid::Uuid::new_v4().simple())).unwrap();
    let b = ClientId::parse(&format!("client-b-{}", uuid::Uuid::new_v4().simple())).unwrap();

    let mut live = log.follow(&a, None).await.unwrap();
    let c1 = log.append(&a, &progress(1)).await.unwrap();
    log.append(&b, &progress(99)).await.unwrap();
    let c2 = log.append(&a, &progress(2)).await.unwrap();
    let c3 = log.append(&a, &progress(3)).await.unwrap();
    assert!(c1 < c2 && c2 < c3, "cursors increase");

    let got = take(&mut live, 3).await;
    assert_eq!(
        got.iter().map(|e| e.cursor).collect::<Vec<_>>(),
        vec![c1, c2, c3]
    );
    assert_eq!(got[0].event, progress(1));
    nothing_more(&mut live).await;

    let mut resumed = log.follow(&a, Some(c1)).await.unwrap();
    let replay = take(&mut resumed, 2).await;
    assert_eq!(
        replay.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        vec![progress(2), progress(3)]
    );
    let c4 = log.append(&a, &progress(4)).await.unwrap();
    let after = take(&mut resumed, 1).await;
    assert_eq!(
        after[0].cursor, c4,
        "a resumed stream goes live after its replay"
    );
    nothing_more(&mut resumed).await;
    assert_eq!(
        take(&mut live, 1).await[0].cursor,
        c4,
        "every follower sees every event"
    );

    let mut other = log.follow(&b, None).await.unwrap();
    let b_events = take(&mut other, 1).await;
    assert_eq!(b_events[0].event, progress(99), "clients are isolated");
    nothing_more(&mut other).await;

    let mut from_end = log.follow(&a, Some(c4)).await.unwrap();
    nothing_more(&mut from_end).await;
    let _ = EventCursor::new(0);
}

/// Events appended through one instance reach a follower of another, in order.
pub async fn across<L: EventLog>(writer: L, reader: L) {
    let client = ClientId::parse(&format!("client-x-{}", uuid::Uuid::new_v4().simple())).unwrap();
    let mut follower = reader.follow(&client, None).await.unwrap();
    let mut cursors = Vec::new();
    for n in 1..=3 {
        cursors.push(writer.append(&client, &progress(n)).await.unwrap());
    }
    let got = take(&mut follower, 3).await;
    assert_eq!(got.iter().map(|e| e.cursor).collect::<Vec<_>>(), cursors);
    let mut resumed = reader.follow(&client, Some(cursors[0])).await.unwrap();
    assert_eq!(
        take(&mut resumed, 2)
            .await
            .iter()
            .map(|e| e.cursor)
            .collect::<Vec<_>>(),
        cursors[1..].to_vec()
    );
}

/// A log whose retention is `retention` tells a client resuming from before events it
/// discarded unread that it missed some, and one resuming after them that it did not.
pub async fn discards_are_told<L: EventLog>(log: L, retention: Duration) {
    let client = ClientId::parse(&format!("client-d-{}", uuid::Uuid::new_v4().simple())).unwrap();
    let c1 = log.append(&client, &progress(1)).await.unwrap();
    let c2 = log.append(&client, &progress(2)).await.unwrap();
    assert!(
        !log.discarded_after(&client, c1).await.unwrap(),
        "nothing is discarded yet"
    );
    tokio::time::sleep(retention + Duration::from_millis(500)).await;
    let c3 = log.append(&client, &progress(3)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !log.discarded_after(&client, c1).await.unwrap() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "event 2 aged out, so a resume after event 1 missed it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !log.discarded_after(&client, c2).await.unwrap(),
        "nothing after event 2 was discarded"
    );
    let mut resumed = log.follow(&client, Some(c1)).await.unwrap();
    assert_eq!(
        take(&mut resumed, 1).await[0].cursor,
        c3,
        "what is left is replayed"
    );
}

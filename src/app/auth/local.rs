//! App (auth): the in-process session level. Bounded; a positive entry lives until the earlier
//! of the cache TTL and the session's own expiry; unknown tokens are remembered briefly; a
//! logout is remembered for the revocation TTL. Evicts the oldest entries when full.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::domain::{Session, SessionKey};

#[derive(Debug, Clone)]
enum Entry {
    Valid(Arc<Session>),
    Unknown,
    Revoked,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<SessionKey, (Entry, Instant)>,
    order: VecDeque<SessionKey>,
}

/// What the local level knows of a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Local {
    /// Shared, not copied: every request on a cached session reads the same one.
    Valid(Arc<Session>),
    /// Known invalid (unknown to the backend, or logged out).
    Invalid,
    Miss,
}

#[derive(Debug, Clone)]
pub struct LocalSessions {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
    ttl: Duration,
    negative_ttl: Duration,
    revocation_ttl: Duration,
}

impl LocalSessions {
    pub fn new(
        capacity: usize,
        ttl: Duration,
        negative_ttl: Duration,
        revocation_ttl: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner::default())),
            capacity: capacity.max(1),
            ttl,
            negative_ttl,
            revocation_ttl,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut crate::sync::lock(&self.inner))
    }

    pub fn get(&self, key: &SessionKey) -> Local {
        let now = Instant::now();
        self.with(|inner| match inner.entries.get(key) {
            Some((entry, deadline)) if *deadline > now => match entry {
                Entry::Valid(session) if session.is_usable(OffsetDateTime::now_utc()) => {
                    Local::Valid(session.clone())
                }
                Entry::Valid(_) => Local::Miss,
                Entry::Unknown | Entry::Revoked => Local::Invalid,
            },
            Some(_) => {
                inner.entries.remove(key);
                Local::Miss
            }
            None => Local::Miss,
        })
    }

    /// Remembers a usable session; an unusable one is not kept.
    pub fn put_valid(&self, key: &SessionKey, session: &Arc<Session>) {
        let now_utc = OffsetDateTime::now_utc();
        if !session.is_usable(now_utc) {
            return;
        }
        let mut life = self.ttl;
        if let Some(expiry) = &session.expires_at {
            let left = expiry.instant() - now_utc;
            let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
            life = life.min(left);
        }
        self.insert(key, Entry::Valid(session.clone()), life);
    }

    pub fn put_unknown(&self, key: &SessionKey) {
        self.insert(key, Entry::Unknown, self.negative_ttl);
    }

    pub fn put_revoked(&self, key: &SessionKey) {
        self.insert(key, Entry::Revoked, self.revocation_ttl);
    }

    /// Forgets a key, unless it is locally revoked (a revocation outlives cache changes).
    pub fn forget(&self, key: &SessionKey) {
        self.with(|inner| {
            if !matches!(inner.entries.get(key), Some((Entry::Revoked, _))) {
                inner.entries.remove(key);
            }
        });
    }

    /// Forgets every valid or unknown entry (changes may have been missed).
    pub fn forget_all(&self) {
        self.with(|inner| {
            inner
                .entries
                .retain(|_, (e, _)| matches!(e, Entry::Revoked))
        });
    }

    pub fn len(&self) -> usize {
        self.with(|inner| inner.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, key: &SessionKey, entry: Entry, life: Duration) {
        let now = Instant::now();
        let capacity = self.capacity;
        self.with(|inner| {
            if inner
                .entries
                .insert(key.clone(), (entry, now + life))
                .is_none()
            {
                inner.order.push_back(key.clone());
            }
            while inner.entries.len() > capacity {
                match inner.order.pop_front() {
                    Some(oldest) => {
                        inner.entries.remove(&oldest);
                    }
                    None => break,
                }
            }
            // Keys removed by `forget` leave stale order slots; drop them when they pile up.
            if inner.order.len() > capacity.saturating_mul(2) {
                let live = &inner.entries;
                inner.order.retain(|k| live.contains_key(k));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ExpiresAt, Roles, SessionToken, User, UserId};

    fn session(expires_in: time::Duration) -> Session {
        Session {
            user: User {
                user_id: UserId::new(1),
                email: String::new(),
                display_name: String::new(),
                roles: Roles::default(),
            },
            expires_at: Some(ExpiresAt::from_instant(
                OffsetDateTime::now_utc() + expires_in,
            )),
            is_active: true,
        }
    }

    fn key(n: u32) -> SessionKey {
        SessionToken::parse(&format!("t{n}")).unwrap().key()
    }

    fn cache() -> LocalSessions {
        LocalSessions::new(
            3,
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(600),
        )
    }

    #[test]
    fn an_entry_ends_at_the_sessions_own_expiry_when_that_is_sooner() {
        let local = cache();
        local.put_valid(
            &key(1),
            &Arc::new(session(time::Duration::milliseconds(150))),
        );
        assert!(matches!(local.get(&key(1)), Local::Valid(_)));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(local.get(&key(1)), Local::Miss);
        local.put_valid(&key(2), &Arc::new(session(time::Duration::seconds(-1))));
        assert_eq!(
            local.get(&key(2)),
            Local::Miss,
            "expired sessions are never cached"
        );
    }

    #[test]
    fn the_oldest_entries_go_when_full() {
        let local = cache();
        for n in 0..5 {
            local.put_valid(&key(n), &Arc::new(session(time::Duration::hours(1))));
        }
        assert_eq!(local.len(), 3);
        assert_eq!(local.get(&key(0)), Local::Miss);
        assert!(matches!(local.get(&key(4)), Local::Valid(_)));
    }

    #[test]
    fn a_revocation_survives_forgetting_and_unknown_tokens_are_invalid() {
        let local = cache();
        local.put_revoked(&key(1));
        local.forget(&key(1));
        local.forget_all();
        assert_eq!(local.get(&key(1)), Local::Invalid);
        local.put_unknown(&key(2));
        assert_eq!(local.get(&key(2)), Local::Invalid);
        local.forget(&key(2));
        assert_eq!(local.get(&key(2)), Local::Miss);
    }
}

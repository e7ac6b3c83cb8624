//! App (auth): the in-process session level. Bounded; a positive entry lives until the earlier
//! of the cache TTL and the session's own expiry; unknown tokens are remembered briefly; a
//! logout is remembered for the revocation TTL. Evicts the oldest entries when full. Valid
//! entries are found by token as well as by key, so that a request on a cached session
//! computes no digest; the tokens stay in this process's memory, never in the shared level.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::domain::{Session, SessionKey, SessionToken};

#[derive(Debug, Clone)]
enum Entry {
    /// With the token it was filled for, under which `Inner::by_token` holds it too.
    Valid(Arc<Session>, SessionToken),
    Unknown,
    Revoked,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<SessionKey, (Entry, Instant)>,
    order: VecDeque<SessionKey>,
    /// The valid entries again, by token, with the same deadline. Every change to
    /// `entries` goes through `Inner::set` or `Inner::remove`, which keep the two in step.
    by_token: HashMap<SessionToken, (Arc<Session>, Instant)>,
}

impl Inner {
    /// Puts an entry; answers whether the key is new.
    fn set(&mut self, key: &SessionKey, entry: Entry, deadline: Instant) -> bool {
        let by_token = match &entry {
            Entry::Valid(session, token) => Some((token.clone(), session.clone())),
            Entry::Unknown | Entry::Revoked => None,
        };
        let new = match self.entries.insert(key.clone(), (entry, deadline)) {
            Some((old, _)) => {
                Self::unlink(&mut self.by_token, old);
                false
            }
            None => true,
        };
        if let Some((token, session)) = by_token {
            self.by_token.insert(token, (session, deadline));
        }
        new
    }

    fn remove(&mut self, key: &SessionKey) {
        if let Some((old, _)) = self.entries.remove(key) {
            Self::unlink(&mut self.by_token, old);
        }
    }

    /// Drops the by-token copy of an entry that left `entries`. A key is its token's
    /// digest, so the copy under that token is this entry's.
    fn unlink(by_token: &mut HashMap<SessionToken, (Arc<Session>, Instant)>, old: Entry) {
        if let Entry::Valid(_, token) = old {
            by_token.remove(&token);
        }
    }
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

    /// A usable cached session of `token`, without computing its key. `None` tells nothing
    /// more: ask [`LocalSessions::get`] by key.
    pub fn get_by_token(&self, token: &SessionToken) -> Option<Arc<Session>> {
        let now = Instant::now();
        self.with(|inner| match inner.by_token.get(token) {
            Some((session, deadline))
                if *deadline > now && session.is_usable(OffsetDateTime::now_utc()) =>
            {
                Some(session.clone())
            }
            _ => None,
        })
    }

    pub fn get(&self, key: &SessionKey) -> Local {
        let now = Instant::now();
        self.with(|inner| match inner.entries.get(key) {
            Some((entry, deadline)) if *deadline > now => match entry {
                Entry::Valid(session, _) if session.is_usable(OffsetDateTime::now_utc()) => {
                    Local::Valid(session.clone())
                }
                Entry::Valid(..) => Local::Miss,
                Entry::Unknown | Entry::Revoked => Local::Invalid,
            },
            Some(_) => {
                inner.remove(key);
                Local::Miss
            }
            None => Local::Miss,
        })
    }

    /// Remembers a usable session of `token` (whose key is `key`) that a lookup found; an
    /// unusable one is not kept, nor one logged out here since (a logout outranks a lookup
    /// that was already under way).
    pub fn put_valid(&self, token: &SessionToken, key: &SessionKey, session: &Arc<Session>) {
        self.put_usable(token, key, session, false);
    }

    /// Remembers the usable session a login has just issued, over any logout of the token.
    pub fn put_issued(&self, token: &SessionToken, key: &SessionKey, session: &Arc<Session>) {
        self.put_usable(token, key, session, true);
    }

    fn put_usable(
        &self,
        token: &SessionToken,
        key: &SessionKey,
        session: &Arc<Session>,
        over_revocation: bool,
    ) {
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
        let now = Instant::now();
        self.with(|inner| {
            let revoked =
                matches!(inner.entries.get(key), Some((Entry::Revoked, end)) if *end > now);
            if over_revocation || !revoked {
                self.insert_locked(
                    inner,
                    key,
                    Entry::Valid(session.clone(), token.clone()),
                    now + life,
                );
            }
        });
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
                inner.remove(key);
            }
        });
    }

    /// Forgets every valid or unknown entry (changes may have been missed).
    pub fn forget_all(&self) {
        self.with(|inner| {
            inner
                .entries
                .retain(|_, (e, _)| matches!(e, Entry::Revoked));
            inner.by_token.clear();
        });
    }

    pub fn len(&self) -> usize {
        self.with(|inner| inner.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, key: &SessionKey, entry: Entry, life: Duration) {
        let deadline = Instant::now() + life;
        self.with(|inner| self.insert_locked(inner, key, entry, deadline));
    }

    fn insert_locked(&self, inner: &mut Inner, key: &SessionKey, entry: Entry, deadline: Instant) {
        if inner.set(key, entry, deadline) {
            inner.order.push_back(key.clone());
        }
        while inner.entries.len() > self.capacity {
            match inner.order.pop_front() {
                Some(oldest) => inner.remove(&oldest),
                None => break,
            }
        }
        // Keys removed by `forget` leave stale order slots; drop them when they pile up.
        if inner.order.len() > self.capacity.saturating_mul(2) {
            let live = &inner.entries;
            inner.order.retain(|k| live.contains_key(k));
        }
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

    fn token(n: u32) -> SessionToken {
        SessionToken::parse(&format!("t{n}")).unwrap()
    }

    fn key(n: u32) -> SessionKey {
        token(n).key()
    }

    fn put(local: &LocalSessions, n: u32, expires_in: time::Duration) -> Arc<Session> {
        let session = Arc::new(session(expires_in));
        local.put_valid(&token(n), &key(n), &session);
        session
    }

    /// What each way of asking knows of session `n`: (by token, by key).
    fn seen(local: &LocalSessions, n: u32) -> (bool, Local) {
        (local.get_by_token(&token(n)).is_some(), local.get(&key(n)))
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
        put(&local, 1, time::Duration::milliseconds(150));
        assert!(matches!(seen(&local, 1), (true, Local::Valid(_))));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(seen(&local, 1), (false, Local::Miss));
        put(&local, 2, time::Duration::seconds(-1));
        assert_eq!(
            seen(&local, 2),
            (false, Local::Miss),
            "expired sessions are never cached"
        );
    }

    #[test]
    fn the_oldest_entries_go_when_full() {
        let local = cache();
        for n in 0..5 {
            put(&local, n, time::Duration::hours(1));
        }
        assert_eq!(local.len(), 3);
        assert_eq!(seen(&local, 0), (false, Local::Miss));
        assert_eq!(seen(&local, 1), (false, Local::Miss));
        assert!(matches!(seen(&local, 4), (true, Local::Valid(_))));
    }

    #[test]
    fn a_session_found_by_token_is_the_one_found_by_key() {
        let local = cache();
        let stored = put(&local, 1, time::Duration::hours(1));
        let by_token = local.get_by_token(&token(1)).unwrap();
        assert!(Arc::ptr_eq(&by_token, &stored));
        let Local::Valid(by_key) = local.get(&key(1)) else {
            panic!("not found by key")
        };
        assert!(Arc::ptr_eq(&by_key, &stored));
        let replaced = put(&local, 1, time::Duration::hours(2));
        assert!(Arc::ptr_eq(
            &local.get_by_token(&token(1)).unwrap(),
            &replaced
        ));
        assert_eq!(local.len(), 1);
    }

    #[test]
    fn every_way_an_entry_leaves_also_ends_its_lookup_by_token() {
        let local = cache();
        let hour = time::Duration::hours(1);
        put(&local, 1, hour);
        local.forget(&key(1));
        assert_eq!(seen(&local, 1), (false, Local::Miss), "forgotten");
        put(&local, 2, hour);
        local.put_revoked(&key(2));
        assert_eq!(seen(&local, 2), (false, Local::Invalid), "revoked");
        put(&local, 3, hour);
        local.put_unknown(&key(3));
        assert_eq!(seen(&local, 3), (false, Local::Invalid), "unknown");
        put(&local, 4, hour);
        local.forget_all();
        assert_eq!(seen(&local, 4), (false, Local::Miss), "all forgotten");
        put(&local, 5, hour);
        local.put_revoked(&key(5));
        put(&local, 5, hour);
        assert_eq!(
            seen(&local, 5),
            (false, Local::Invalid),
            "a lookup that ends after a logout does not bring the session back"
        );
        local.put_issued(&token(5), &key(5), &Arc::new(session(hour)));
        assert!(
            matches!(seen(&local, 5), (true, Local::Valid(_))),
            "a new login does"
        );
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

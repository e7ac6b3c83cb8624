//! Contract suites for the driven ports: each `run` takes a way to build an implementation
//! and asserts the behaviour every implementation must share.
#![allow(dead_code)]

pub mod event_log;
pub mod forwarder;
pub mod playbook_runner;
pub mod reply_bus;
pub mod request_store;
pub mod session_cache;

use noetl_gateway::domain::{ExpiresAt, Roles, Session, User, UserId};

pub fn session(user_id: i64) -> Session {
    Session {
        user: User {
            user_id: UserId::new(user_id),
            email: format!("u{user_id}@example.com"),
            display_name: format!("User {user_id}"),
            roles: Roles::new(["admin"]),
        },
        expires_at: Some(ExpiresAt::parse("2099-01-01 00:00:00.000000+00").expect("valid expiry")),
        is_active: true,
    }
}

//! App: how many client connections the public listener may hold open when
//! `GATEWAY_MAX_CONNECTIONS` does not say (and what a set bound is warned against): the
//! open-file limit less the descriptors the gateway keeps for its own connections (to NoETL,
//! to NATS, on the internal listener).

/// Descriptors kept beyond the bounds of the proxy, auth and the internal listener: NATS,
/// NoETL calls other than the proxy's and auth's, and files.
const KEPT_FOR_OTHERS: u64 = 256;
/// The bound when the process has no open-file limit.
const WITHOUT_A_LIMIT: usize = 1_000_000;

/// What the gateway may hold open besides the public listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct OwnConnections {
    /// To NoETL for the proxy (`GATEWAY_PROXY_MAX_CONNECTIONS`).
    pub proxy: usize,
    /// To NoETL for auth (`GATEWAY_AUTH_MAX_PENDING`).
    pub auth_pending: usize,
    /// On the internal listener (`GATEWAY_INTERNAL_MAX_CONNECTIONS`).
    pub internal: usize,
}

/// The public listener's connection bound when none is set: `open_files` (the soft limit,
/// `None` for none) less what the gateway holds `own` and [`KEPT_FOR_OTHERS`], but never
/// under half of the limit.
pub fn client_connection_bound(open_files: Option<u64>, own: OwnConnections) -> usize {
    let Some(limit) = open_files else {
        return WITHOUT_A_LIMIT;
    };
    let held = own
        .proxy
        .saturating_add(own.auth_pending)
        .saturating_add(own.internal);
    let kept = u64::try_from(held)
        .unwrap_or(u64::MAX)
        .saturating_add(KEPT_FOR_OTHERS);
    let bound = limit.saturating_sub(kept).max(limit / 2).max(1);
    usize::try_from(bound)
        .unwrap_or(WITHOUT_A_LIMIT)
        .min(WITHOUT_A_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: OwnConnections = OwnConnections {
        proxy: 1024,
        auth_pending: 512,
        internal: 1024,
    };

    #[test]
    fn the_limit_less_what_the_gateway_keeps() {
        assert_eq!(
            client_connection_bound(Some(20_000), DEFAULTS),
            20_000 - 1024 - 512 - 1024 - 256
        );
        let more_internal = OwnConnections {
            internal: 4096,
            ..DEFAULTS
        };
        assert_eq!(
            client_connection_bound(Some(20_000), more_internal),
            20_000 - 1024 - 512 - 4096 - 256
        );
    }

    #[test]
    fn at_least_half_of_a_small_limit() {
        assert_eq!(client_connection_bound(Some(1024), DEFAULTS), 512);
        assert_eq!(client_connection_bound(Some(1), DEFAULTS), 1);
    }

    #[test]
    fn no_limit_or_a_huge_one_gives_the_top_bound() {
        assert_eq!(client_connection_bound(None, DEFAULTS), 1_000_000);
        assert_eq!(client_connection_bound(Some(u64::MAX), DEFAULTS), 1_000_000);
    }
}

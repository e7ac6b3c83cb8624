//! App: how many client connections the public listener may hold open when
//! `GATEWAY_MAX_CONNECTIONS` does not say (and what a set bound is warned against): the
//! open-file limit less the descriptors the gateway keeps for its own connections (to NoETL,
//! to NATS, on the internal listener).

/// Descriptors kept beyond the proxy's and auth's bounds: the internal listener's
/// connections (worker callbacks, metrics scrapes), NATS, NoETL calls other than the proxy's
/// and auth's, and files.
const KEPT_FOR_OTHERS: u64 = 512;
/// The bound when the process has no open-file limit.
const WITHOUT_A_LIMIT: usize = 1_000_000;

/// The public listener's connection bound when none is set: `open_files` (the soft limit,
/// `None` for none) less what the proxy (`proxy_connections`) and auth (`auth_pending`) may
/// hold open to NoETL and [`KEPT_FOR_OTHERS`], but never under half of the limit.
pub fn client_connection_bound(
    open_files: Option<u64>,
    proxy_connections: usize,
    auth_pending: usize,
) -> usize {
    let Some(limit) = open_files else {
        return WITHOUT_A_LIMIT;
    };
    let kept = u64::try_from(proxy_connections.saturating_add(auth_pending))
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

    #[test]
    fn the_limit_less_what_the_gateway_keeps() {
        assert_eq!(
            client_connection_bound(Some(20_000), 1024, 512),
            20_000 - 1024 - 512 - 512
        );
    }

    #[test]
    fn at_least_half_of_a_small_limit() {
        assert_eq!(client_connection_bound(Some(1024), 1024, 512), 512);
        assert_eq!(client_connection_bound(Some(1), 1024, 512), 1);
    }

    #[test]
    fn no_limit_or_a_huge_one_gives_the_top_bound() {
        assert_eq!(client_connection_bound(None, 1024, 512), 1_000_000);
        assert_eq!(
            client_connection_bound(Some(u64::MAX), 1024, 512),
            1_000_000
        );
    }
}

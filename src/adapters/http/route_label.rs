//! Adapters (http): the route template a request path belongs to, for metrics and span
//! names. A closed set, so a client cannot grow the label space with made-up paths.

/// Routes served as written.
const EXACT: &[&str] = &[
    "/health",
    "/livez",
    "/readyz",
    "/metrics",
    "/events",
    "/graphql",
    "/graphql/ws",
    "/openapi.json",
    "/api/auth/login",
    "/api/auth/validate",
    "/api/auth/session",
    "/api/auth/check-access",
    "/api/auth/logout",
    "/api/internal/callback",
    "/api/internal/callback/async",
    "/api/internal/progress",
];

/// The template of `path`: itself when it is a known route, a prefix pattern for the
/// proxy, assets and docs, and `unmatched` otherwise.
pub fn route_template(path: &str) -> &'static str {
    if let Some(known) = EXACT.iter().find(|r| **r == path) {
        return known;
    }
    if path.starts_with("/noetl/") {
        "/noetl/{path}"
    } else if path.starts_with("/graphql/assets/") {
        "/graphql/assets/{name}"
    } else if path == "/docs" || path.starts_with("/docs/") {
        "/docs"
    } else {
        "unmatched"
    }
}

/// The methods a route template answers, for the `Allow` header of a 405.
pub fn allowed_methods(route: &str) -> Option<&'static str> {
    Some(match route {
        "/health"
        | "/livez"
        | "/readyz"
        | "/metrics"
        | "/events"
        | "/openapi.json"
        | "/api/auth/session"
        | "/graphql/assets/{name}"
        | "/docs" => "GET, HEAD",
        "/graphql" | "/graphql/ws" => "GET, HEAD, POST",
        "/noetl/{path}" => "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
        "unmatched" => return None,
        _ => "POST",
    })
}

/// The method as a static label; methods outside the standard set count as `OTHER`.
pub fn method_label(method: &http::Method) -> &'static str {
    const KNOWN: &[&str] = &[
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method.as_str())
        .copied()
        .unwrap_or("OTHER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_a_closed_set_of_templates() {
        assert_eq!(route_template("/api/auth/login"), "/api/auth/login");
        assert_eq!(route_template("/noetl/executions/42"), "/noetl/{path}");
        assert_eq!(
            route_template("/graphql/assets/app.js"),
            "/graphql/assets/{name}"
        );
        assert_eq!(route_template("/docs/index.html"), "/docs");
        assert_eq!(route_template("/wp-admin/x"), "unmatched");
        assert_eq!(allowed_methods("/api/auth/login"), Some("POST"));
        assert_eq!(allowed_methods("/health"), Some("GET, HEAD"));
        assert_eq!(allowed_methods("unmatched"), None);
        assert_eq!(method_label(&http::Method::PATCH), "PATCH");
        let odd = http::Method::from_bytes(b"BREW").unwrap_or(http::Method::GET);
        assert_eq!(method_label(&odd), "OTHER");
    }
}

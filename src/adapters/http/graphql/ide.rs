//! Adapters (graphql): GraphiQL served entirely by the gateway (its scripts are embedded,
//! gzip-compressed, so the page works where browsers cannot reach a CDN). A session is given
//! with the `session_token` cookie, or in the headers editor as
//! `{"Authorization": "Bearer <token>"}`.

use poem::http::{StatusCode, header};
use poem::web::{Html, Path};
use poem::{IntoResponse, Response, handler};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    gzipped: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        gzipped: include_bytes!("../../../../assets/graphiql/graphiql.min.js.gz"),
    },
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        gzipped: include_bytes!("../../../../assets/graphiql/graphiql.min.css.gz"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        gzipped: include_bytes!("../../../../assets/graphiql/react.production.min.js.gz"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        gzipped: include_bytes!("../../../../assets/graphiql/react-dom.production.min.js.gz"),
    },
];

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>noetl-gateway GraphiQL</title>
  <link rel="stylesheet" href="/graphql/assets/graphiql.min.css">
  <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/graphql/assets/react.production.min.js"></script>
  <script src="/graphql/assets/react-dom.production.min.js"></script>
  <script src="/graphql/assets/graphiql.min.js"></script>
  <script>
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const fetcher = GraphiQL.createFetcher({
      url: "/graphql",
      subscriptionUrl: scheme + "://" + location.host + "/graphql/ws",
    });
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultQuery: "# Sign in: session_token cookie, or in Headers:\n# {\"Authorization\": \"Bearer <token>\"}\n{ version health }\n",
        isHeadersEditorEnabled: true,
      })
    );
  </script>
</body>
</html>
"##;

/// The GraphiQL page.
#[handler]
pub fn graphiql() -> Html<&'static str> {
    Html(PAGE)
}

/// One embedded asset, sent gzip-encoded with a long cache lifetime.
#[handler]
pub fn graphiql_asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => Response::builder()
            .content_type(asset.content_type)
            .header(header::CONTENT_ENCODING, "gzip")
            .header(header::CACHE_CONTROL, "public, max-age=86400")
            .body(asset.gzipped),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

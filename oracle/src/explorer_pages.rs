//! The explorer's pages and everything they load, embedded in the binary so that they work
//! offline: the map (`/`, `/map`), a hotspot's page (`/hotspot?address=`), the reward
//! ledger's page (`/ledger`: who signed each epoch's entry, who dissented), their scripts and
//! styles, and the vendored libraries and base map of `static/vendor/dist/` (Leaflet,
//! topojson-client, uPlot, Natural Earth countries from `world-atlas`; `npm ci && npm run
//! vendor` in `static/vendor/` copies them there).

use crate::Oracle;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};

/// Everything a page loads comes from the oracle itself.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";
const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json";

/// One embedded file: path, content type, body, and whether it may be cached for a day (the
/// vendored files change only with the binary).
type Asset = (&'static str, &'static str, &'static [u8], bool);

/// Every embedded file the explorer serves.
const ASSETS: &[Asset] = &[
    ("/", HTML, include_bytes!("../static/map.html"), false),
    ("/map", HTML, include_bytes!("../static/map.html"), false),
    (
        "/hotspot",
        HTML,
        include_bytes!("../static/hotspot.html"),
        false,
    ),
    (
        "/ledger",
        HTML,
        include_bytes!("../static/ledger.html"),
        false,
    ),
    (
        "/assets/explorer.js",
        JS,
        include_bytes!("../static/explorer.js"),
        false,
    ),
    (
        "/assets/map.js",
        JS,
        include_bytes!("../static/map.js"),
        false,
    ),
    (
        "/assets/hotspot.js",
        JS,
        include_bytes!("../static/hotspot.js"),
        false,
    ),
    (
        "/assets/ledger.js",
        JS,
        include_bytes!("../static/ledger.js"),
        false,
    ),
    (
        "/assets/map.css",
        CSS,
        include_bytes!("../static/map.css"),
        false,
    ),
    (
        "/assets/vendor/leaflet.js",
        JS,
        include_bytes!("../static/vendor/dist/leaflet.js"),
        true,
    ),
    (
        "/assets/vendor/leaflet.css",
        CSS,
        include_bytes!("../static/vendor/dist/leaflet.css"),
        true,
    ),
    (
        "/assets/vendor/topojson-client.min.js",
        JS,
        include_bytes!("../static/vendor/dist/topojson-client.min.js"),
        true,
    ),
    (
        "/assets/vendor/uPlot.iife.min.js",
        JS,
        include_bytes!("../static/vendor/dist/uPlot.iife.min.js"),
        true,
    ),
    (
        "/assets/vendor/uPlot.min.css",
        CSS,
        include_bytes!("../static/vendor/dist/uPlot.min.css"),
        true,
    ),
    (
        "/assets/vendor/countries-50m.json",
        JSON,
        include_bytes!("../static/vendor/dist/countries-50m.json"),
        true,
    ),
];

/// The route of each page and asset.
pub fn routes() -> Vec<(&'static str, MethodRouter<Oracle>)> {
    ASSETS
        .iter()
        .map(|&(path, content_type, body, cached)| {
            let route = get(move || async move { respond(content_type, body, cached) });
            (path, route)
        })
        .collect()
}

fn respond(content_type: &'static str, body: &'static [u8], cached: bool) -> Response {
    let cache = if cached {
        "public, max-age=86400"
    } else {
        "no-cache"
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response();
    if content_type == HTML {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(PAGE_CSP),
        );
    }
    response
}

//! The page: HTML, CSS and vanilla JavaScript embedded in the binary and served as one
//! document, so it needs no build step and no other URL than the API's.

use std::sync::LazyLock;

use axum::extract::OriginalUri;
use axum::response::{Html, IntoResponse, Redirect, Response};

const HTML: &str = include_str!("page/index.html");
const STYLE: &str = include_str!("page/style.css");
const SCRIPT: &str = include_str!("page/app.js");

/// The document with its style and script inlined.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    HTML.replace("/* STYLE */", STYLE)
        .replace("/* SCRIPT */", SCRIPT)
});

/// The page, at a path ending in `/`: nested under `/dashboard`, a request for `/dashboard` is
/// redirected to `/dashboard/`, or the page's relative URLs would miss the prefix.
pub(crate) async fn index(OriginalUri(uri): OriginalUri) -> Response {
    let path = uri.path();
    if !path.ends_with('/') {
        let query = uri
            .query()
            .map(|query| format!("?{query}"))
            .unwrap_or_default();
        return Redirect::permanent(&format!("{path}/{query}")).into_response();
    }
    Html(PAGE.as_str()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlines_the_style_and_script() {
        assert!(!PAGE.contains("/* STYLE */") && !PAGE.contains("/* SCRIPT */"));
        assert!(PAGE.contains("id=\"call-form\""));
        assert!(PAGE.contains("function refreshMetrics"));
    }

    #[test]
    fn uses_relative_urls_and_no_inner_html() {
        for absolute in ["'/api", "\"/api", "`/api", "src=\"/", "href=\"/"] {
            assert!(
                !PAGE.contains(absolute),
                "the page uses an absolute URL: {absolute}"
            );
        }
        assert!(
            !SCRIPT.contains("innerHTML"),
            "data goes in with textContent"
        );
    }
}

//! The page: HTML, CSS and vanilla JavaScript embedded in the binary and served as one
//! document, so it needs no build step and no other URL than the API's.

use std::sync::LazyLock;

use axum::response::Html;

const HTML: &str = include_str!("page/index.html");
const STYLE: &str = include_str!("page/style.css");
const SCRIPT: &str = include_str!("page/app.js");

/// The document with its style and script inlined.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    HTML.replace("/* STYLE */", STYLE)
        .replace("/* SCRIPT */", SCRIPT)
});

pub(crate) async fn index() -> Html<&'static str> {
    Html(PAGE.as_str())
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

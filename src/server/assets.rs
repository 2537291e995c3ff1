//! The web IDE (`editors/web`), built by Vite and embedded in the binary, so
//! `codelab-agent serve` needs no Node and no files beside it.
//!
//! `editors/web/dist/files.rs` is generated with the build and lists every
//! built file; `tests/web.rs` rebuilds the page and fails when the committed
//! build differs from its sources.

/// Every built file: its path below `dist/` and its bytes, sorted by path.
pub static FILES: &[(&str, &[u8])] = include!("../../editors/web/dist/files.rs");

/// The bytes of the built file at `path` (no leading `/`).
pub fn get(path: &str) -> Option<&'static [u8]> {
    FILES
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| FILES[i].1)
}

/// The media type of a built file, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ttf") => "font/ttf",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_embedded_and_sorted() {
        assert!(super::get("index.html").is_some());
        assert!(super::FILES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(
            super::content_type("assets/index-1a2b.js"),
            "text/javascript; charset=utf-8"
        );
    }
}

//! The console's static files, compiled into the binary. URLs carry a
//! content hash (`?v=`), so browsers may cache them for a long time.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// A static file: name, content type, content.
struct File {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const FILES: &[File] = &[
    File {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../static/app.css"),
    },
    File {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../static/app.js"),
    },
    File {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../static/favicon.svg"),
    },
];

/// 64-bit FNV-1a, computed at compile time for cache busting.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

const VERSION: u64 = {
    let mut h = 0u64;
    let mut i = 0;
    while i < FILES.len() {
        h ^= fnv1a(FILES[i].body.as_bytes()).rotate_left(i as u32);
        i += 1;
    }
    h
};

/// The URL of a static file, with the content version.
pub fn url(name: &str) -> String {
    format!("/console/static/{name}?v={VERSION:016x}")
}

/// `GET /console/static/{file}` (public: no secrets in these files).
pub async fn serve(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|f| f.name == name) {
        Some(f) => (
            [
                (header::CONTENT_TYPE, f.content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            f.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // Published FNV-1a 64-bit test vectors.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn urls_are_versioned() {
        let u = url("app.css");
        assert!(u.starts_with("/console/static/app.css?v="));
        assert_eq!(u.len(), "/console/static/app.css?v=".len() + 16);
    }
}

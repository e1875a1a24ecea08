//! Inline SVG icons (static markup written here, never built from input).
//! Strokes follow the Feather/Lucide style (24×24, 2 px, round joins).

macro_rules! icon {
    ($paths:expr) => {
        concat!(
            r#"<svg class="icon" viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">"#,
            $paths,
            "</svg>"
        )
    };
}

pub const LOGO: &str = r##"<svg class="logo" viewBox="0 0 24 24" width="26" height="26" aria-hidden="true" focusable="false"><path d="M12 2 4 5v6.5c0 5 3.4 9.3 8 10.5 4.6-1.2 8-5.5 8-10.5V5l-8-3z" fill="currentColor"/><path d="m8.5 12 2.5 2.5 4.5-5" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>"##;
pub const HOME: &str = icon!(
    r#"<rect x="3" y="3" width="7" height="9" rx="1"/><rect x="14" y="3" width="7" height="5" rx="1"/><rect x="14" y="12" width="7" height="9" rx="1"/><rect x="3" y="16" width="7" height="5" rx="1"/>"#
);
pub const SERVER: &str = icon!(
    r#"<rect x="2" y="3" width="20" height="8" rx="2"/><rect x="2" y="13" width="20" height="8" rx="2"/><path d="M6 7h.01M6 17h.01"/>"#
);
pub const DOWNLOAD: &str = icon!(
    r#"<path d="M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4"/><path d="m7 10 5 5 5-5"/><path d="M12 15V3"/>"#
);
pub const SLIDERS: &str =
    icon!(r#"<path d="M4 21v-7M4 10V3M12 21v-9M12 8V3M20 21v-5M20 12V3M1 14h6M9 8h6M17 16h6"/>"#);
pub const SIGNOUT: &str = icon!(
    r#"<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4"/><path d="m16 17 5-5-5-5"/><path d="M21 12H9"/>"#
);
pub const COPY: &str = icon!(
    r#"<rect x="9" y="9" width="13" height="13" rx="2"/><path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1"/>"#
);
pub const SEARCH: &str = icon!(r#"<circle cx="11" cy="11" r="7"/><path d="m21 21-4.3-4.3"/>"#);
pub const ALERT: &str = icon!(
    r#"<path d="M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z"/><path d="M12 9v4M12 17h.01"/>"#
);
pub const KEY: &str = icon!(
    r#"<circle cx="7.5" cy="15.5" r="5.5"/><path d="m21 2-9.6 9.6M15.5 7.5l3 3L22 7l-3-3"/>"#
);
pub const TRASH: &str = icon!(
    r#"<path d="M3 6h18M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6"/>"#
);
pub const CHEVRON_RIGHT: &str = icon!(r#"<path d="m9 18 6-6-6-6"/>"#);
pub const CHEVRON_LEFT: &str = icon!(r#"<path d="m15 18-6-6 6-6"/>"#);
pub const INFO: &str = icon!(r#"<circle cx="12" cy="12" r="10"/><path d="M12 16v-4M12 8h.01"/>"#);
pub const CHECK: &str = icon!(r#"<path d="M20 6 9 17l-5-5"/>"#);
pub const PLUG: &str =
    icon!(r#"<path d="M12 22v-5M9 8V2M15 8V2M18 8v5a4 4 0 0 1-4 4h-4a4 4 0 0 1-4-4V8z"/>"#);
pub const ACTIVITY: &str = icon!(r#"<path d="M22 12h-4l-3 9L9 3l-3 9H2"/>"#);
pub const BELL: &str = icon!(
    r#"<path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9"/><path d="M10.3 21a1.94 1.94 0 0 0 3.4 0"/>"#
);
pub const SHIELD: &str =
    icon!(r#"<path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/><path d="m9 12 2 2 4-4"/>"#);
pub const SEND: &str = icon!(r#"<path d="m22 2-7 20-4-9-9-4z"/><path d="M22 2 11 13"/>"#);
pub const REFRESH: &str = icon!(r#"<path d="M21 12a9 9 0 1 1-3-6.7L21 8"/><path d="M21 3v5h-5"/>"#);

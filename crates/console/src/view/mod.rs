//! HTML building blocks (maud: every `(value)` is HTML-escaped, so text from
//! agents — hostnames, OS names, errors — can never become markup).

pub mod alert_look;
pub mod chart;
pub mod components;
pub mod fmt;
pub mod icons;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::statics;

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Assets,
    Alerts,
    Agents,
    Policy,
    Outputs,
    Updates,
}

/// The frame of a signed-in page.
pub struct Frame<'a> {
    pub title: &'a str,
    pub nav: Nav,
    /// CSRF token for the sign-out form (and any form on the page).
    pub csrf: &'a str,
}

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        meta name="color-scheme" content="light";
        title { (title) " · Ward" }
        link rel="icon" type="image/svg+xml" href=(statics::url("favicon.svg"));
        link rel="stylesheet" href=(statics::url("app.css"));
        script src=(statics::url("app.js")) defer {}
    }
}

fn nav_link(current: Nav, target: Nav, href: &str, icon: &str, label: &str) -> Markup {
    html! {
        a.nav-link href=(href) aria-current=[(current == target).then_some("page")] {
            (PreEscaped(icon)) span { (label) }
        }
    }
}

/// A full signed-in page: sidebar, page header and content.
pub fn page(frame: &Frame, header: Markup, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(frame.title)) }
            body {
                a.skip href="#main" { "Skip to content" }
                div.shell {
                    header.sidebar {
                        a.brand href="/console/" aria-label="Ward overview" {
                            (PreEscaped(icons::LOGO)) span { "Ward" }
                        }
                        nav.nav aria-label="Main" {
                            (nav_link(frame.nav, Nav::Overview, "/console/", icons::HOME, "Overview"))
                            (nav_link(frame.nav, Nav::Assets, "/console/assets", icons::SERVER, "Assets"))
                            (nav_link(frame.nav, Nav::Alerts, "/console/alerts", icons::BELL, "Alerts"))
                            div.nav-section { "Settings" }
                            (nav_link(frame.nav, Nav::Agents, "/console/settings/agents", icons::DOWNLOAD, "Install / Uninstall Agent"))
                            (nav_link(frame.nav, Nav::Policy, "/console/settings/policy", icons::SLIDERS, "Agent policy"))
                            (nav_link(frame.nav, Nav::Updates, "/console/settings/updates", icons::REFRESH, "Agent updates"))
                            (nav_link(frame.nav, Nav::Outputs, "/console/settings/outputs", icons::SEND, "Alert outputs"))
                        }
                        form.signout method="post" action="/console/signout" {
                            (components::csrf_field(frame.csrf))
                            button.btn.btn-ghost.btn-block type="submit" {
                                (PreEscaped(icons::SIGNOUT)) span { "Sign out" }
                            }
                        }
                    }
                    main #main tabindex="-1" {
                        (header)
                        (content)
                    }
                }
                (components::confirm_dialog())
            }
        }
    }
}

/// The page title row: heading, optional subtitle and actions.
pub fn page_header(title: &str, subtitle: Option<Markup>, actions: Option<Markup>) -> Markup {
    html! {
        div.page-header {
            div {
                h1 { (title) }
                @if let Some(s) = subtitle { p.subtitle { span { (s) } } }
            }
            @if let Some(a) = actions { div.page-actions { (a) } }
        }
    }
}

/// A page without the sidebar (sign-in, errors before sign-in).
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body.bare {
                main #main.bare-main { (content) }
            }
        }
    }
}

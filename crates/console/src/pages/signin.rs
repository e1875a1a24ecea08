//! Sign-in and sign-out.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use crate::auth::{cookie, SignIn};
use crate::host::ConsoleHost;
use crate::http::{Authed, PageError, SessionCtx};
use crate::view::fmt::now_ms;
use crate::view::{self, components, icons};

pub const PATH: &str = "/console/signin";

#[derive(Debug, Default, Deserialize)]
pub struct NextParam {
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Where to go after signing in: only console pages of this server.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if (n == "/console/" || n.starts_with("/console/") || n.starts_with("/console?"))
                && !n.starts_with(PATH)
                && !n.contains("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n
        }
        _ => "/console/",
    }
}

fn form(csrf: &str, next: &str, error: Option<Markup>) -> Markup {
    view::bare(
        "Sign in",
        html! {
            div.signin {
                div.signin-brand { (PreEscaped(icons::LOGO)) span { "Ward" } }
                div.card.signin-card {
                    h1 { "Sign in to the console" }
                    p.muted { "Ward protects your servers. Sign in with the administrator password." }
                    @if let Some(e) = error {
                        div.flash.flash-crit role="alert" { (PreEscaped(icons::ALERT)) div { (e) } }
                    }
                    form method="post" action=(PATH) {
                        (components::csrf_field(csrf))
                        input type="hidden" name="next" value=(next);
                        input.visually-hidden type="text" name="username" value="admin" autocomplete="username" tabindex="-1" aria-hidden="true";
                        label.field {
                            span.field-label { "Password" }
                            input #password type="password" name="password" required autocomplete="current-password" autofocus;
                        }
                        button.btn.btn-primary.btn-block type="submit" { "Sign in" }
                    }
                }
                p.signin-help.muted {
                    "The first password was printed once when the server first started. "
                    "Forgot it? Run " code { "ward-server admin set-password --data-dir DIR" } " on the server."
                }
            }
        },
    )
}

/// A sign-in page on a fresh anonymous session.
fn fresh_form(
    host: &dyn ConsoleHost,
    now: i64,
    status: StatusCode,
    next: &str,
    error: Option<Markup>,
) -> Response {
    let s = host.auth().anonymous_session(now);
    let mut res = (status, Html(form(&s.csrf, next, error).into_string())).into_response();
    set_cookie(&mut res, &cookie::set_session(&s.token, None));
    res
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Answer to a sign-in post whose form token was missing, wrong or expired:
/// refused (403), with a fresh form to try again.
pub fn expired_form(host: &dyn ConsoleHost, now: i64) -> Response {
    fresh_form(
        host,
        now,
        StatusCode::FORBIDDEN,
        "/console/",
        Some(
            html! { "The sign-in form expired or was not sent from this page. Please sign in again." },
        ),
    )
}

/// `GET /console/signin`.
pub async fn page(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(ctx): Extension<SessionCtx>,
    Query(q): Query<NextParam>,
) -> Response {
    let next = safe_next(q.next.as_deref()).to_string();
    match (&ctx.info, &ctx.token) {
        (Some(i), _) if i.signed_in.is_some() => Redirect::to(&next).into_response(),
        // Keep an existing anonymous session (its token is in other open tabs).
        (Some(i), Some(_)) => Html(form(&i.csrf, &next, None).into_string()).into_response(),
        _ => fresh_form(&*host, now_ms(), StatusCode::OK, &next, None),
    }
}

/// `POST /console/signin` (the CSRF check already passed).
pub async fn submit(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(ctx): Extension<SessionCtx>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(f): Form<SignInForm>,
) -> Result<Response, PageError> {
    let now = now_ms();
    let ip = peer.map_or(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        |Extension(ConnectInfo(a))| a.ip(),
    );
    let next = safe_next(f.next.as_deref()).to_string();
    let csrf = ctx
        .info
        .as_ref()
        .map(|i| i.csrf.clone())
        .unwrap_or_default();
    let outcome = host
        .auth()
        .sign_in(ip, f.password, ctx.token.as_deref(), now)
        .await
        .map_err(|e| PageError::internal("checking the password", e))?;
    Ok(match outcome {
        SignIn::Ok(s) => {
            tracing::info!(%ip, "console: administrator signed in");
            let mut res = Redirect::to(&next).into_response();
            set_cookie(
                &mut res,
                &cookie::set_session(&s.token, Some(host.auth().signed_in_max_age_secs())),
            );
            res
        }
        SignIn::Wrong => {
            tracing::warn!(%ip, "console: wrong password");
            let page = form(&csrf, &next, Some(html! { "That password is not right." }));
            (StatusCode::UNAUTHORIZED, Html(page.into_string())).into_response()
        }
        SignIn::Limited(wait) => {
            tracing::warn!(%ip, "console: sign-in refused, too many failures");
            let minutes = wait.div_ceil(60);
            let page = form(
                &csrf,
                &next,
                Some(html! {
                    "Too many failed sign-ins from your address. Try again in "
                    (minutes) @if minutes == 1 { " minute." } @else { " minutes." }
                }),
            );
            let mut res = (StatusCode::TOO_MANY_REQUESTS, Html(page.into_string())).into_response();
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        SignIn::NoPassword => {
            let page = form(
                &csrf,
                &next,
                Some(html! {
                    "No administrator password is set. Run "
                    code { "ward-server admin set-password --data-dir DIR" } " on the server."
                }),
            );
            (StatusCode::SERVICE_UNAVAILABLE, Html(page.into_string())).into_response()
        }
    })
}

/// `POST /console/signout`.
pub async fn sign_out(
    State(host): State<Arc<dyn ConsoleHost>>,
    Extension(a): Extension<Authed>,
) -> Response {
    host.auth().sign_out(&a.token);
    let mut res = Redirect::to(PATH).into_response();
    set_cookie(&mut res, &cookie::clear_session());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_only_goes_to_console_pages() {
        assert_eq!(
            safe_next(Some("/console/assets?q=web")),
            "/console/assets?q=web"
        );
        assert_eq!(safe_next(Some("/console/")), "/console/");
        for bad in [
            "https://evil.example/",
            "//evil.example/console/",
            "/console//evil",
            "/console/\\evil",
            "/api/v1/assets",
            "/console/signin",
            "/console/assets\nx",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/console/");
    }
}

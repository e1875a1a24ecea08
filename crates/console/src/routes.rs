//! The console's routes, mounted by `ward-server-core` next to the API.

use std::sync::Arc;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

use crate::host::ConsoleHost;
use crate::http::middleware::{require_signed_in, security_headers, session_and_csrf};
use crate::pages::{
    agents, alert, alerts, asset, assets, live, outputs, overview, policy, signin, uninstall,
    updates, whitelist,
};
use crate::statics;

/// Every console route, for any outer router state.
///
/// * `/` and `/console` redirect to the overview;
/// * `/console/signin` and `/console/static/*` are public;
/// * everything else needs a signed-in session (pages redirect to sign-in,
///   `/console/live` answers 401);
/// * every non-GET request needs the session's CSRF token (403 otherwise).
pub fn routes<S>(host: Arc<dyn ConsoleHost>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let protected = Router::new()
        .route("/console/", get(overview::page))
        .route("/console/assets", get(assets::page))
        .route("/console/assets/uninstall", post(uninstall::post))
        .route("/console/assets/{id}", get(asset::page))
        .route("/console/assets/{id}/token", post(asset::token))
        .route("/console/commands/{id}/cancel", post(uninstall::cancel))
        .route(policy::TAMPER_PATH, post(policy::save_tamper))
        .route(agents::PATH, get(agents::page))
        .route("/console/settings/keys", post(agents::create_key))
        .route(
            "/console/settings/keys/{id}/revoke",
            post(agents::revoke_key),
        )
        .route(policy::PATH, get(policy::page).post(policy::save))
        .route(alerts::PATH, get(alerts::page))
        .route("/console/alerts/state", post(alerts::set_state))
        .route(whitelist::PATH, get(whitelist::page).post(whitelist::add))
        .route(
            "/console/alerts/whitelist/{id}/delete",
            post(whitelist::delete),
        )
        .route("/console/alerts/{id}", get(alert::page))
        .route("/console/alerts/{id}/whitelist", post(alert::whitelist))
        .route(outputs::PATH, get(outputs::page).post(outputs::save))
        .route(updates::PATH, get(updates::page).post(updates::save))
        .route("/console/live", get(live::status))
        .route("/console/signout", post(signin::sign_out))
        .route_layer(from_fn(require_signed_in));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route(signin::PATH, get(signin::page).post(signin::submit))
        .route("/console/static/{file}", get(statics::serve))
        .merge(protected)
        .layer(from_fn_with_state(host.clone(), session_and_csrf))
        .layer(from_fn(security_headers))
        .with_state(host)
}

//! Signing out of the page.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::super::Server;
use super::{COOKIE, Session, stale};

/// Signs out; like every form, only with the session's CSRF token.
pub(super) async fn logout(
    State(s): State<Arc<Server>>,
    Extension(sess): Extension<Session>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let csrf = form.ok().and_then(|Form(mut f)| f.remove("csrf"));
    if let Some(refused) = stale(&sess, csrf.as_deref().unwrap_or("")) {
        return refused;
    }
    if let Some(id) = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(';')
                .find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))
        })
    {
        s.sessions.0.lock().expect("sessions").remove(id);
    }
    Redirect::to("/login").into_response()
}

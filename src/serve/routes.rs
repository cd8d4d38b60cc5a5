//! Every route of `/api/v1/`: one table, from which the router is built. Its tests hold the table,
//! the router built from it and the OpenAPI document (`openapi`) against each other, both ways.

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use super::Server;
use super::api;
use super::openapi;
use super::schedule;
use super::storage;

/// A route: its method, its path under `/api/v1`, and what answers it.
type Route = (Method, &'static str, MethodRouter<Arc<Server>>);

fn route<H, T>(method: Method, path: &'static str, handler: H) -> Route
where
    H: Handler<T, Arc<Server>>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
    (method, path, on(filter, handler))
}

/// Every route of the API.
fn table() -> Vec<Route> {
    vec![
        route(Method::GET, "/openapi.json", openapi::served),
        route(Method::GET, "/metrics", api::metrics),
        route(Method::GET, "/storage", storage::show),
        route(Method::PUT, "/storage", storage::replace),
        route(Method::POST, "/storage/test", storage::test),
        route(Method::GET, "/schedule", schedule::show),
        route(Method::PUT, "/schedule", schedule::replace),
        route(Method::GET, "/status", api::status),
        route(Method::GET, "/backups", api::backups),
        route(Method::POST, "/backups", api::start_backup),
        route(Method::POST, "/restores", api::start_restore),
        route(Method::POST, "/verify", api::start_verify),
        route(Method::POST, "/drills", api::start_drill),
        route(Method::GET, "/jobs", api::jobs),
        route(Method::GET, "/jobs/{id}", api::job),
        route(Method::GET, "/jobs/{id}/events", api::events),
        route(Method::POST, "/jobs/{id}/cancel", api::cancel),
    ]
}

/// The routes of `table` as one router (the methods of a path together).
fn routed(table: Vec<Route>) -> Router<Arc<Server>> {
    table
        .into_iter()
        .fold(Router::new(), |r, (_, path, answer)| r.route(path, answer))
}

/// The API, to be nested at `/api/v1`.
pub fn router(s: Arc<Server>) -> Router {
    routed(table()).with_state(s)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::middleware::{Next, from_fn};
    use tower::ServiceExt;

    use super::*;

    const PREFIX: &str = "/api/v1";

    /// The (method, path) of every operation the document describes.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(openapi::document()).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, _) in item.as_object().unwrap() {
                if [
                    "get", "put", "post", "delete", "patch", "head", "options", "trace",
                ]
                .contains(&method.as_str())
                {
                    out.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    fn tabled() -> BTreeSet<(String, String)> {
        table()
            .into_iter()
            .map(|(m, p, _)| (m.to_string(), format!("{PREFIX}{p}")))
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_is_routed() {
        let (tabled, documented) = (tabled(), documented());
        let undocumented: Vec<_> = tabled.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routed, not documented: {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&tabled).collect();
        assert!(unrouted.is_empty(), "documented, not routed: {unrouted:?}");
    }

    /// A server for a folder with nothing in it.
    fn server(dir: &std::path::Path) -> Arc<Server> {
        use clap::Parser;
        let cli = crate::cli::Cli::parse_from(["setup", "-C", &dir.to_string_lossy(), "serve"]);
        let options = crate::options::Options::new(&cli.common, Default::default());
        Arc::new(Server::new(
            dir.to_path_buf(),
            options,
            std::path::PathBuf::from("/nonexistent/setup"),
            false,
        ))
    }

    /// What the router answers to `method path`: the route's own answer is replaced by 204
    /// before any handler runs; the router's own are 404 (no such path) and 405 (not that method).
    async fn answer(router: &Router, method: &str, path: &str) -> StatusCode {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(req).await.unwrap().status()
    }

    #[tokio::test]
    async fn the_router_answers_exactly_the_documented_methods_of_the_documented_paths() {
        let dir = tempfile::tempdir().unwrap();
        async fn reached(_: axum::extract::Request, _: Next) -> StatusCode {
            StatusCode::NO_CONTENT
        }
        let probed: Vec<Route> = table()
            .into_iter()
            .map(|(m, p, answer)| (m, p, answer.route_layer(from_fn(reached))))
            .collect();
        let router = Router::new().nest(PREFIX, routed(probed).with_state(server(dir.path())));
        let documented = documented();
        let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
        for path in paths {
            let asked = path.replace("{id}", "20261207T182147Z-b4da");
            for method in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
                let want = if documented.contains(&(method.to_string(), path.clone())) {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::METHOD_NOT_ALLOWED
                };
                assert_eq!(
                    answer(&router, method, &asked).await,
                    want,
                    "{method} {path}"
                );
            }
        }
        for unknown in ["/api/v1/nothing", "/api/v1/jobs/a/b/c", "/api/v1"] {
            assert_eq!(
                answer(&router, "GET", unknown).await,
                StatusCode::NOT_FOUND,
                "{unknown}"
            );
        }
    }
}

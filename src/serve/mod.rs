//! `setup serve`: the on-demand API over HTTP, for a folder of documents (`-C DIR`).
//!
//! - Every endpoint but `/healthz` needs `Authorization: Bearer TOKEN` (`setup serve token add`, or
//!   `SETUP_SERVE_TOKEN`); every request is a line of `.setup/serve/audit.jsonl` (who, what, answer).
//! - It listens on loopback; elsewhere only with `--insecure-http`, said loudly.
//! - Each endpoint takes and answers a type of its own; errors are one type, `problem::Problem`,
//!   sent as `application/problem+json` (RFC 9457); a job whose hosts another run holds is 409,
//!   naming that run. `routes` is the one table of the API's routes; the OpenAPI document
//!   (`openapi`) is derived from the handlers and their types, and tested against that table.
//! - Jobs (`jobs`) run the binary's own operations, with the same locks, journal and rollback.
//! - Request bodies are at most 64 KiB; each client's requests and failed authentications are
//!   rate-limited (`limit`). No response carries a secret: jobs' messages and events come from
//!   the engine's masked journal and output.

mod api;
mod body;
mod conn;
mod edit;
mod failed;
mod jobs;
mod limit;
mod openapi;
mod page;
mod problem;
mod routes;
mod schedule;
mod settings;
mod storage;
mod tls;
pub mod tokens;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::diag::Diag;
use crate::failure::Failure;
use crate::options::Options;
use problem::Problem;

pub struct Server {
    pub dir: PathBuf,
    /// The command line's options: where backup.yml and restore.yml are, for `/status`.
    pub options: Options,
    pub jobs: Arc<jobs::Jobs>,
    pub exe: PathBuf,
    audit: std::sync::Mutex<()>,
    pub sessions: page::Sessions,
    /// Served over TLS: the session cookie is `Secure`.
    pub https: bool,
    /// Requests per client, and failed authentications per client.
    requests: limit::Limiter,
    failures: limit::Limiter,
    /// The last listing of the storage, kept for a few seconds.
    pub listed: Recent,
    /// Where the schedule runs and whether it is installed: asked of the machine when the server
    /// starts, after each change of the schedule and every half minute, never by a request that
    /// only reads (finding out may take a process: `crontab -l`).
    pub placed: schedule::Placed,
}

impl Server {
    pub fn new(dir: PathBuf, options: Options, exe: PathBuf, https: bool) -> Server {
        Server {
            jobs: Arc::new(jobs::Jobs::new(&dir, exe.clone(), &options)),
            dir,
            options,
            exe,
            audit: std::sync::Mutex::new(()),
            sessions: page::Sessions::default(),
            https,
            requests: limit::Limiter::requests(),
            failures: limit::Limiter::failures(),
            listed: Recent::default(),
            placed: schedule::Placed::default(),
        }
    }
}

/// A value kept for two seconds, and only while `generation` (the jobs ended so far) is the same:
/// what several views read together is made once, and what a job changed is read anew. What is
/// kept is the storage's listing as the list command makes it (`commands::list`, JSON of its own
/// format), served as it is by `GET /backups`.
#[derive(Default)]
pub struct Recent(std::sync::Mutex<Option<(std::time::Instant, u64, serde_json::Value)>>);

impl Recent {
    const FOR: std::time::Duration = std::time::Duration::from_secs(2);

    pub fn fresh(&self, generation: u64) -> Option<serde_json::Value> {
        let kept = self.0.lock().expect("recent");
        kept.as_ref()
            .filter(|(at, g, _)| at.elapsed() < Self::FOR && *g == generation)
            .map(|(_, _, v)| v.clone())
    }

    pub fn keep(&self, generation: u64, v: serde_json::Value) {
        *self.0.lock().expect("recent") = Some((std::time::Instant::now(), generation, v));
    }

    /// Forgets what was kept: what it described has changed (a backup job ended, settings saved).
    pub fn forget(&self) {
        *self.0.lock().expect("recent") = None;
    }
}

/// Any error answer not already a problem document (what axum's extractors refuse: a body that is
/// not JSON, or without `Content-Type: application/json`, 415; too big, 413; a method the path
/// does not take, 405), made one, so that every error of the API is `application/problem+json`.
/// Pages (HTML) are left as they are.
async fn problems_only(State(s): State<Arc<Server>>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let ctype = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !(status.is_client_error() || status.is_server_error())
        || ctype.starts_with("application/problem+json")
        || ctype.starts_with("text/html")
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let said = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    // The extractor's words (where the body is not valid JSON, say), never a value of it.
    let mut p = Problem::refused(status, &said, |t| failed::secrets(&s.options).mask(t));
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            p = p.with_header(name.clone(), value.clone());
        }
    }
    p.into_response()
}

/// The client's address (unspecified when unknown).
fn client(req: &Request) -> std::net::IpAddr {
    req.extensions()
        .get::<axum::extract::ConnectInfo<tls::Peer>>()
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |c| c.0.0.ip())
}

/// The request limit of each client, before anything else.
async fn limited(State(s): State<Arc<Server>>, req: Request, next: Next) -> Response {
    if req.uri().path() != "/healthz"
        && let Err(wait) = s.requests.take(client(&req), std::time::Instant::now())
    {
        s.audit("-", req.method().as_str(), req.uri().path(), 429);
        return Problem::too_many(wait).into_response();
    }
    next.run(req).await
}

impl Server {
    /// This binary's own command in the server's folder: (succeeded, stdout, stderr).
    pub(super) async fn own(&self, args: &[&str]) -> Result<(bool, String, String), String> {
        let out = tokio::process::Command::new(&self.exe)
            .args(args)
            .args(["--non-interactive", "-C"])
            .arg(&self.dir)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| e.to_string())?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// A failed authentication of `ip`; the answer 429 when it has failed too often.
    fn failed_auth(&self, ip: std::net::IpAddr) -> Option<Problem> {
        self.failures
            .take(ip, std::time::Instant::now())
            .err()
            .map(Problem::too_many)
    }

    /// 429 while `ip` must wait for having failed too often.
    fn held_back(&self, ip: std::net::IpAddr) -> Option<Problem> {
        match self.failures.wait(ip, std::time::Instant::now()) {
            0 => None,
            wait => Some(Problem::too_many(wait)),
        }
    }

    fn audit(&self, who: &str, method: &str, path: &str, status: u16) {
        use std::io::Write;
        let _guard = self.audit.lock().expect("audit");
        let line = serde_json::to_string(&Audited {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            who,
            method,
            path,
            status,
        })
        .expect("json");
        let path = self.dir.join(".setup").join("serve").join("audit.jsonl");
        let _ = std::fs::create_dir_all(path.parent().expect("a folder"));
        // Who did what is for the owner only; a file an older version left readable is made so.
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
        {
            if f.metadata()
                .is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
            {
                let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
            }
            let _ = writeln!(f, "{line}");
        }
    }
}

/// A line of the audit log.
#[derive(serde::Serialize)]
struct Audited<'a> {
    at: String,
    who: &'a str,
    method: &'a str,
    path: &'a str,
    status: u16,
}

/// The token check, and the audit line of every request.
async fn guard(State(s): State<Arc<Server>>, mut req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let ip = client(&req);
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    let who = if presented.is_empty() {
        None
    } else {
        tokens::who(&s.dir, presented)
    };
    // A valid token is never held back by failures from its address: behind a TLS proxy every
    // client shares one, and one client guessing would lock everyone out. Tokens are 256 random
    // bits; the failure limit slows guessing, it does not stand between a holder and the server.
    let Some(who) = who else {
        if let Some(p) = s.held_back(ip).or_else(|| s.failed_auth(ip)) {
            s.audit("-", &method, &path, 429);
            return p.into_response();
        }
        s.audit("-", &method, &path, 401);
        let (title, detail) = if presented.is_empty() {
            (
                "a token is needed",
                "send `Authorization: Bearer TOKEN` (`setup serve token add NAME` makes one)",
            )
        } else {
            (
                "the token is not known",
                "it was never made here, or it was revoked: `setup serve token list` names the tokens there are",
            )
        };
        return Problem::new(StatusCode::UNAUTHORIZED, title, detail)
            .with_header(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            )
            .into_response();
    };
    req.extensions_mut().insert(api::Who(who.clone()));
    let response = next.run(req).await;
    s.audit(&who, &method, &path, response.status().as_u16());
    response
}

/// Refuses to listen beyond loopback in plain HTTP unless told to.
fn checked_listen(listen: &str, insecure_http: bool, tls: bool) -> Result<SocketAddr, Failure> {
    let addr: SocketAddr = listen.parse().map_err(|_| {
        Failure::invalid(
            Diag::plain(
                "listen",
                format!("--listen `{listen}` is not an address and port"),
            )
            .help("write e.g. `--listen 127.0.0.1:7080`"),
        )
    })?;
    if !addr.ip().is_loopback() && !insecure_http && !tls {
        return Err(Failure::invalid(
            Diag::plain(
                "listen",
                format!("--listen {addr} is beyond this machine, and the server speaks plain HTTP: tokens and answers would cross the network readable"),
            )
            .help("give --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy, or give --insecure-http to accept that"),
        ));
    }
    Ok(addr)
}

pub fn run(
    o: &Options,
    listen: &str,
    insecure_http: bool,
    tls: Option<(&std::path::Path, &std::path::Path)>,
) -> Result<i32, Failure> {
    let addr = checked_listen(listen, insecure_http, tls.is_some())?;
    let acceptor = match tls {
        Some((cert, key)) => Some(
            tls::acceptor(&o.dir.join(cert), &o.dir.join(key))
                .map_err(|e| Failure::invalid(Diag::plain("tls", e)))?,
        ),
        None => None,
    };
    let dir = std::fs::canonicalize(&o.dir)
        .map_err(|e| Failure::invalid(Diag::plain("dir", format!("{}: {e}", o.dir.display()))))?;
    let exe = std::env::current_exe().map_err(|e| Failure::Other(e.to_string()))?;
    let env_token = std::env::var("SETUP_SERVE_TOKEN").is_ok_and(|t| !t.is_empty());
    if tokens::list(&dir).is_empty() && !env_token {
        return Err(Failure::invalid(
            Diag::plain("token", "no API token: nobody could use the server")
                .help("make one with `setup serve token add NAME` (it is shown once), or set SETUP_SERVE_TOKEN"),
        ));
    }
    // Sessions and CSRF tokens are drawn from the system's random source: without one, no
    // session could be trusted, so the server does not start.
    tokens::random_hex().map_err(|e| {
        Failure::Other(format!(
            "the system's random source cannot be read ({e}): sessions could not be made safe"
        ))
    })?;
    // The server never asks: a missing answer is said, not prompted for.
    let options = Options {
        interactive: false,
        ..o.clone()
    };
    let server = Arc::new(Server::new(dir, options, exe, acceptor.is_some()));
    server.placed.refresh(&server.options);
    let placed = server.clone();
    let api = routes::router(server.clone())
        .layer(axum::middleware::from_fn_with_state(server.clone(), guard));
    let app = Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .nest("/api/v1", api)
        .merge(page::router(server.clone(), settings::routes()))
        .fallback(|| async {
            Problem::new(
                StatusCode::NOT_FOUND,
                "no such endpoint",
                "see /api/v1/openapi.json",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            server.clone(),
            problems_only,
        ))
        .layer(axum::middleware::from_fn_with_state(
            server.clone(),
            limited,
        ));
    crate::commands::runtime().block_on(async move {
        schedule::Placed::keep_fresh(placed);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::Other(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Failure::Other(e.to_string()))?;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let at = server.dir.display();
        match acceptor {
            Some(acceptor) => {
                println!("setup serve: listening on https://{bound} for {at}");
                let tls = tls::TlsListener::new(listener, acceptor);
                conn::serve(tls, app, shutdown).await;
            }
            None => {
                if !bound.ip().is_loopback() {
                    eprintln!("WARNING: serving plain HTTP on {bound} (--insecure-http)");
                }
                println!("setup serve: listening on http://{bound} for {at}");
                conn::serve(listener, app, shutdown).await;
            }
        }
        Ok(0)
    })
}

/// `setup serve token add|list|revoke`.
pub fn token(
    o: &Options,
    action: crate::cli::TokenAction,
    name: Option<&str>,
) -> Result<i32, Failure> {
    use crate::cli::TokenAction;
    let named = || {
        name.ok_or_else(|| {
            Failure::invalid(
                Diag::plain("token", "which token? give its name")
                    .help("e.g. `setup serve token add ci`"),
            )
        })
    };
    let bad = |e: String| Failure::invalid(Diag::plain("token", e));
    match action {
        TokenAction::Add => {
            let token = tokens::add(&o.dir, named()?).map_err(bad)?;
            println!("{token}");
            eprintln!("This token is shown once; only its sha256 is kept.");
        }
        TokenAction::List => {
            for (n, at) in tokens::list(&o.dir) {
                println!("{n:<24} {at}");
            }
        }
        TokenAction::Revoke => {
            tokens::revoke(&o.dir, named()?).map_err(bad)?;
            println!("revoked {}", named()?);
        }
    }
    Ok(0)
}

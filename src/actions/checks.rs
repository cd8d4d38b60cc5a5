//! `wait_for`, `assert` and `debug`: health checks and facts, no changes.

use std::time::{Duration, Instant};

use serde_json::{Value as J, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::docs::actions::{AssertArgs, DebugArgs, WaitForArgs};
use crate::docs::inventory::Connection;
use crate::task::{Outcome, TaskCtx};
use crate::transport::Program;

pub async fn wait_for(ctx: &TaskCtx<'_>) -> Outcome {
    let a: WaitForArgs = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let timeout = Duration::from_secs(a.timeout.unwrap_or(60));
    let delay = Duration::from_millis(a.delay.map_or(500, |s| s * 1000));
    let default_host = match ctx.host.connection {
        Connection::Local => "127.0.0.1".to_string(),
        Connection::Ssh | Connection::Unsupported => ctx
            .host
            .address
            .clone()
            .unwrap_or_else(|| ctx.host.name.clone()),
    };
    let host = a.host.clone().unwrap_or(default_host);
    let start = Instant::now();
    loop {
        let res: Result<String, String> = if let Some(port) = &a.port {
            match tokio::time::timeout(
                Duration::from_secs(3),
                tokio::net::TcpStream::connect(format!("{host}:{port}")),
            )
            .await
            {
                Ok(Ok(_)) => Ok(format!("{host}:{port} accepts connections")),
                Ok(Err(e)) => Err(format!("{host}:{port}: {e}")),
                Err(_) => Err(format!("{host}:{port}: connect timed out")),
            }
        } else if let Some(url) = &a.http {
            let want = a.status.unwrap_or(200) as u16;
            http_status(url).await.and_then(|s| {
                if s == want {
                    Ok(format!("{url} answered {s}"))
                } else {
                    Err(format!("{url} answered {s}, want {want}"))
                }
            })
        } else if let Some(name) = &a.service {
            let manager = a.manager.as_deref().unwrap_or("systemctl");
            let program = super::service::argv(manager, "status", name);
            match ctx.transport.exec(ctx.request(program)).await {
                Ok(o) if o.success() => Ok(format!("service {name} is running")),
                Ok(o) => Err(format!(
                    "service {name} is not running (status exited {})",
                    o.code.unwrap_or(-1)
                )),
                Err(e) => Err(e.to_string()),
            }
        } else if let Some(cmd) = &a.command {
            match ctx
                .transport
                .exec(ctx.request(Program::Shell(cmd.clone())))
                .await
            {
                Ok(o) if o.success() => Ok(format!("`{cmd}` succeeded")),
                Ok(o) => Err(format!("`{cmd}` exited {}", o.code.unwrap_or(-1))),
                Err(e) => Err(e.to_string()),
            }
        } else {
            return Outcome::failed("`wait_for` needs `port`, `http`, `service` or `command`");
        };
        let last = match res {
            Ok(m) => {
                return Outcome::ok(format!("{m} after {:.1}s", start.elapsed().as_secs_f64()));
            }
            Err(e) => e,
        };
        if start.elapsed() + delay > timeout {
            return Outcome::failed(format!("gave up after {}s: {last}", timeout.as_secs()));
        }
        tokio::time::sleep(delay).await;
    }
}

/// A plain HTTP/1.0 GET, enough for a health endpoint.
pub async fn http_status(url: &str) -> Result<u16, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// health checks are supported"))?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let io = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await?;
        s.write_all(
            format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut head = vec![0u8; 64];
        let n = s.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..n]).into_owned())
    };
    let head = tokio::time::timeout(Duration::from_secs(5), io)
        .await
        .map_err(|_| format!("{url}: timed out"))?
        .map_err(|e| format!("{url}: {e}"))?;
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{url}: not an HTTP answer"))
}

pub fn assert(ctx: &TaskCtx<'_>) -> Outcome {
    let a: AssertArgs = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    // The expressions as written: they are evaluated, not rendered.
    let raw = ctx.step.payload.get("that").map_or(a.that, |n| n.to_json());
    let exprs: Vec<String> = match raw {
        J::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        J::String(s) => vec![s],
        _ => Vec::new(),
    };
    for e in &exprs {
        match ctx.shared.templates.eval(e, ctx.vars) {
            Ok(v) if v.is_true() => {}
            Ok(_) => {
                let msg = a.msg.unwrap_or_else(|| format!("assertion failed: {e}"));
                return Outcome::failed(msg);
            }
            Err(err) => {
                return Outcome::failed(format!(
                    "assertion `{e}`: {}",
                    crate::template::error_text(&err)
                ));
            }
        }
    }
    Outcome::ok(format!("{} assertion(s) hold", exprs.len()))
}

pub fn debug(ctx: &TaskCtx<'_>) -> Outcome {
    let a: DebugArgs = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let text = match (a.msg, a.var) {
        (Some(m), _) => m.as_str().map(str::to_string).unwrap_or(m.to_string()),
        (None, Some(var)) => match ctx.shared.templates.eval(&var, ctx.vars) {
            Ok(v) => format!("{var} = {}", crate::template::to_json(&v)),
            Err(e) => return Outcome::failed(crate::template::error_text(&e)),
        },
        _ => String::new(),
    };
    let mut o = Outcome::ok(text.clone()).with_data(json!({ "msg": text }));
    o.output = text;
    o
}

//! `copy` and `template`: put a file on the host, unchanged when it already holds the same bytes.

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::task::{Outcome, TaskCtx};

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let Some(dest) = ctx.arg("dest") else {
        return Outcome::failed("no `dest`");
    };
    let bytes = match ctx.step.action {
        "template" => {
            let src = ctx.arg("src").unwrap_or_default();
            let text = match ctx.shared.dirs.template(&src) {
                Ok(t) => t,
                Err(e) => return Outcome::failed(e),
            };
            match ctx.shared.templates.render(&text, ctx.vars) {
                Ok(r) => r.into_bytes(),
                Err(e) => {
                    return Outcome::failed(format!(
                        "template {src}: {}",
                        crate::template::error_text(&e)
                    ));
                }
            }
        }
        _ => match (ctx.arg("content"), ctx.arg("src")) {
            (Some(c), _) => c.into_bytes(),
            (None, Some(src)) => match std::fs::read(ctx.shared.dirs.resolve(&src)) {
                Ok(b) => b,
                Err(e) => return Outcome::failed(format!("cannot read {src}: {e}")),
            },
            (None, None) => return Outcome::failed("`copy` needs `src` or `content`"),
        },
    };
    let want = Sha256::digest(&bytes);
    if let Ok(mut r) = ctx.transport.get(&dest, ctx.become_()).await {
        let mut existing = Vec::new();
        if r.read_to_end(&mut existing).await.is_ok() && Sha256::digest(&existing) == want {
            return Outcome::ok(format!("{dest} already up to date"));
        }
    }
    let mode = ctx
        .arg("mode")
        .and_then(|m| u32::from_str_radix(m.trim_start_matches("0o"), 8).ok());
    let n = bytes.len();
    match ctx
        .transport
        .put(
            &dest,
            Box::new(std::io::Cursor::new(bytes)),
            mode,
            ctx.become_(),
        )
        .await
    {
        Ok(_) => Outcome::changed(format!("wrote {dest} ({n} bytes)")),
        Err(e) => Outcome::failed(e.to_string()),
    }
}

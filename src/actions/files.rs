//! `copy` and `template`: put a file on the host, unchanged when it already holds the same bytes.

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::docs::actions::{CopyArgs, TemplateArgs};
use crate::task::{Outcome, TaskCtx};

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let read = match ctx.step.action {
        "template" => ctx.typed::<TemplateArgs>().and_then(|a| {
            let text = ctx.shared.dirs.template(&a.src)?;
            match ctx.shared.templates.render(&text, ctx.vars) {
                Ok(r) => Ok((a.dest, a.mode, r.into_bytes())),
                Err(e) => Err(format!(
                    "template {}: {}",
                    a.src,
                    crate::template::error_text(&e)
                )),
            }
        }),
        _ => ctx.typed::<CopyArgs>().and_then(|a| {
            let bytes = match (a.content, &a.src) {
                (Some(c), _) => c.into_bytes(),
                (None, Some(src)) => std::fs::read(ctx.shared.dirs.resolve(src))
                    .map_err(|e| format!("cannot read {src}: {e}"))?,
                (None, None) => return Err("`copy` needs `src` or `content`".to_string()),
            };
            Ok((a.dest, a.mode, bytes))
        }),
    };
    let (dest, mode, bytes) = match read {
        Ok(r) => r,
        Err(e) => return Outcome::failed(e),
    };
    let want = Sha256::digest(&bytes);
    if let Ok(mut r) = ctx.transport.get(&dest, ctx.become_()).await {
        let mut existing = Vec::new();
        if r.read_to_end(&mut existing).await.is_ok() && Sha256::digest(&existing) == want {
            return Outcome::ok(format!("{dest} already up to date"));
        }
    }
    let mode = mode.and_then(|m| u32::from_str_radix(m.trim_start_matches("0o"), 8).ok());
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

//! The `local` transport: commands and files on this machine.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::{
    Become, Done, ErrorKind, ExecOutput, ExecRequest, Program, Reader, Streamed, Transport,
    TransportError, Written, command_ended, copy_hashing, exchange, feed, read_capped,
};
use crate::secret::Secret;

pub struct Local {
    host: String,
    /// Relative paths and commands start here (the folder given with -C).
    cwd: PathBuf,
    /// The run's tag, the name of every command's shell ([`super::run_tag`]).
    tag: String,
    /// Whether sudo here asks no password (asked once, on the first `become` with one).
    sudo_free: tokio::sync::OnceCell<bool>,
}

impl Local {
    pub fn new(host: &str, cwd: &Path, tag: &str) -> Self {
        Local {
            host: host.to_string(),
            cwd: cwd.to_path_buf(),
            tag: tag.to_string(),
            sudo_free: tokio::sync::OnceCell::new(),
        }
    }

    /// `become` as this machine needs it: none as root; the password fed only where sudo asks one.
    async fn settle(&self, as_: Become) -> Become {
        if is_root() {
            return None;
        }
        super::settle_become(&self.sudo_free, as_, || async {
            let probe = ExecRequest::shell(super::SUDO_NEEDS_NO_PASSWORD);
            self.exec(probe).await.map(|o| o.success())
        })
        .await
    }

    fn path(&self, p: &str) -> PathBuf {
        self.cwd.join(p)
    }

    /// `put` through sudo, for `become` when setup does not run as root: the bytes stream into a
    /// root-owned temporary file, which is renamed once its size is confirmed.
    async fn put_as_root(
        &self,
        path: &str,
        mut data: Reader,
        mode: Option<u32>,
        as_: Become,
    ) -> Result<Written, TransportError> {
        use tokio::io::AsyncWriteExt;
        let full = self.path(path).display().to_string();
        let tmp = format!("{full}.setup-tmp-{}", std::process::id());
        let dir = Path::new(&full)
            .parent()
            .map_or(".".into(), |p| p.display().to_string());
        let chmod = mode.map_or(String::new(), |m| format!("chmod {m:o} \"$1\" && "));
        // The paths are arguments, never shell text. Renamed only when every byte sent landed.
        let script = format!(
            "[ \"$(( $(wc -c < \"$1\") ))\" = \"$3\" ] && {chmod}mv -f \"$1\" \"$2\" || {{ rm -f \"$1\"; exit 1; }}"
        );
        let stage = ExecRequest {
            become_: as_.clone(),
            ..ExecRequest::new(Program::Argv(vec![
                "sh".into(),
                "-c".into(),
                "mkdir -p \"$2\" && cat > \"$1\"".into(),
                "sh".into(),
                tmp.clone(),
                dir,
            ]))
        };
        let (mut cmd, sudo) = self.command(&stage)?;
        let mut child = cmd
            .spawn()
            .map_err(|e| self.err(format!("cannot start the command: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped");
        if let Some(Some(p)) = sudo {
            let _ = stdin
                .write_all(format!("{}\n", p.expose()).as_bytes())
                .await;
        }
        let err = child.stderr.take().expect("piped");
        let send = async {
            let w = copy_hashing(&mut data, &mut stdin).await;
            let _ = stdin.shutdown().await;
            drop(stdin);
            w
        };
        let (sent, (err, _)) = tokio::join!(send, read_capped(err, 4096));
        let status = child
            .wait()
            .await
            .map_err(|e| self.err(format!("writing {path}: {e}")))?;
        let finish = |size: String| ExecRequest {
            become_: as_.clone(),
            ..ExecRequest::new(Program::Argv(vec![
                "sh".into(),
                "-c".into(),
                script.clone(),
                "sh".into(),
                tmp.clone(),
                full.clone(),
                size,
            ]))
        };
        let written = match sent {
            Ok(w) if status.success() => w,
            other => {
                let _ = self.exec(finish("-1".into())).await;
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => err.trim().to_string(),
                };
                return Err(self.err(format!("writing {path}: {why}")));
            }
        };
        let done = self.exec(finish(written.bytes.to_string())).await?;
        if !done.success() {
            return Err(self.err(format!(
                "writing {path}: the file did not land whole{}",
                if done.stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", done.stderr.trim())
                }
            )));
        }
        Ok(written)
    }

    fn err(&self, message: String) -> TransportError {
        TransportError {
            host: self.host.clone(),
            kind: ErrorKind::Io,
            message,
        }
    }
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false)
}

/// Kills a command's whole process group if its task is dropped before the command ends (a second
/// Ctrl-C, a timeout), so no grandchild lives on.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

impl Local {
    /// The process a request runs as: `sh -c`, the argv itself, or through sudo; in its own process
    /// group (a terminal's Ctrl-C reaches only setup, which decides, and an aborted task can be
    /// killed with everything it started). Also the sudo password to feed, if any.
    fn command(
        &self,
        req: &ExecRequest,
    ) -> Result<(Command, Option<Option<Secret>>), TransportError> {
        let sudo = req.become_.as_ref().filter(|_| !is_root()).cloned();
        let mut cmd = match (&req.program, super::sudo_words(&sudo)) {
            // Every command runs under a shell named for the run (see `run_tag`).
            (Program::Shell(s), None) => {
                let mut c = Command::new("sh");
                c.args(["-c", super::BOOT, &self.tag, s]);
                c
            }
            (Program::Argv(a), None) => {
                if a.is_empty() {
                    return Err(self.err("empty command".into()));
                }
                let mut c = Command::new("sh");
                c.args(["-c", "\"$@\"; exit", &self.tag]).args(a);
                c
            }
            (program, Some(words)) => {
                let mut c = Command::new(words[0]);
                c.args(&words[1..])
                    .args(["sh", "-c", super::BOOT, &self.tag, &program.line()]);
                c
            }
        };
        for (k, v) in &req.env {
            cmd.env(k, v.expose());
        }
        cmd.current_dir(
            req.cwd
                .as_deref()
                .map_or(self.cwd.clone(), |d| self.path(d)),
        );
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        Ok((cmd, sudo))
    }
}

impl Transport for Local {
    fn exec(&self, mut req: ExecRequest) -> Done<'_, ExecOutput> {
        Box::pin(async move {
            req.become_ = self.settle(req.become_.take()).await;
            let (mut cmd, sudo) = self.command(&req)?;
            let mut child = cmd
                .spawn()
                .map_err(|e| self.err(format!("cannot start the command: {e}")))?;
            let mut group = Group(child.id());
            let stdin = child.stdin.take().expect("piped");
            let password = sudo.flatten();
            let input = req.stdin.take();
            let feed = feed(stdin, password, Vec::new(), input);
            let (out, err) = (child.stdout.take(), child.stderr.take());
            let wait = async {
                child
                    .wait()
                    .await
                    .map_err(|e| self.err(format!("waiting for the command: {e}")))
            };
            let (out, err) = (out.expect("piped"), err.expect("piped"));
            let result = exchange(feed, out, err, req.cap, wait).await;
            // It finished: what it started on purpose (a service, say) is left alone.
            group.0 = None;
            result
        })
    }

    fn put<'a>(
        &'a self,
        path: &'a str,
        mut data: Reader,
        mode: Option<u32>,
        as_: Become,
    ) -> Done<'a, Written> {
        Box::pin(async move {
            let as_ = self.settle(as_).await;
            if as_.is_some() {
                return self.put_as_root(path, data, mode, as_).await;
            }
            let full = self.path(path);
            let target = full.as_path();
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| self.err(format!("cannot create {}: {e}", parent.display())))?;
            }
            let tmp = format!("{}.setup-tmp-{}", full.display(), std::process::id());
            // Made afresh: never written through a link planted under that name.
            let _ = tokio::fs::remove_file(&tmp).await;
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .await
                .map_err(|e| self.err(format!("cannot write {tmp}: {e}")))?;
            let copied = copy_hashing(&mut data, &mut file).await;
            let written = match copied {
                Ok(n) => n,
                Err(e) => {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(self.err(format!("writing {path}: {e}")));
                }
            };
            file.sync_all()
                .await
                .map_err(|e| self.err(format!("syncing {path}: {e}")))?;
            drop(file);
            if let Some(m) = mode {
                use std::os::unix::fs::PermissionsExt;
                let _ = tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m)).await;
            }
            tokio::fs::rename(&tmp, &full)
                .await
                .map_err(|e| self.err(format!("renaming into {path}: {e}")))?;
            Ok(written)
        })
    }

    fn get<'a>(&'a self, path: &'a str, as_: Become) -> Done<'a, Reader> {
        Box::pin(async move {
            let as_ = self.settle(as_).await;
            if as_.is_some() {
                let req = ExecRequest {
                    become_: as_,
                    ..ExecRequest::new(Program::Argv(vec!["cat".into(), path.into()]))
                };
                return self.stream(req).await;
            }
            let f = tokio::fs::File::open(self.path(path))
                .await
                .map_err(|e| self.err(format!("cannot read {path}: {e}")))?;
            Ok(Box::new(f) as Reader)
        })
    }

    fn stream(&self, mut req: ExecRequest) -> Done<'_, Reader> {
        Box::pin(async move {
            req.become_ = self.settle(req.become_.take()).await;
            let (mut cmd, sudo) = self.command(&req)?;
            let mut child = cmd
                .spawn()
                .map_err(|e| self.err(format!("cannot start the command: {e}")))?;
            let stdin = child.stdin.take().expect("piped");
            tokio::spawn(feed(stdin, sudo.flatten(), Vec::new(), None));
            let out = child.stdout.take().expect("piped");
            let err = tokio::spawn(read_capped(child.stderr.take().expect("piped"), 64 * 1024));
            // Dropping the stream drops the child, which is then killed.
            let done = Box::pin(async move {
                command_ended(err, async { child.wait().await.map(|s| s.code()) }).await
            });
            Ok(Box::new(Streamed::new(Box::new(out), done)) as Reader)
        })
    }
}

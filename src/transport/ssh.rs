//! The `ssh` transport: the system's OpenSSH client through the `openssh` crate, one multiplexed master
//! per host, opened on first use and closed at the end of the run.
//!
//! Secrets never go on the remote command line: environment values travel on stdin, ahead of the
//! command's own input, and a fixed bootstrap reads them (`head -c N`) before running the command.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder, Stdio};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{
    Become, BoxFut, Done, ErrorKind, ExecOutput, ExecRequest, Program, Reader, Transport,
    TransportError, Written, copy_hashing, exchange, feed, quote, read_capped,
};
use crate::docs::inventory::Host;

/// How long an idle master connection stays up with no command on it.
const MASTER_IDLE: std::num::NonZeroUsize = std::num::NonZeroUsize::new(30).unwrap();

/// How many times a connection whose handshake ran out of time is tried in all.
const CONNECT_ATTEMPTS: u64 = 3;

#[derive(Clone, Debug)]
pub struct SshOptions {
    pub connect_timeout: Duration,
    pub accept_new_host_keys: bool,
    pub known_hosts: Option<PathBuf>,
    pub control_dir: PathBuf,
    /// The run's tag, the name of every remote command's shell ([`super::run_tag`]).
    pub tag: String,
    /// How many connections may be being opened at once, over all hosts (`--connect-limit`): a run
    /// on hundreds of hosts starts that many ssh processes at a time, not all of them.
    pub connecting: Arc<tokio::sync::Semaphore>,
}

pub struct Ssh {
    host: Host,
    opts: SshOptions,
    session: Mutex<Option<Result<Arc<Session>, TransportError>>>,
    /// Whether the host's sudo asks no password (asked once, on the first `become` with one).
    sudo_free: tokio::sync::OnceCell<bool>,
}

impl Ssh {
    pub fn new(host: &Host, opts: SshOptions) -> Self {
        Ssh {
            host: host.clone(),
            opts,
            session: Mutex::new(None),
            sudo_free: tokio::sync::OnceCell::new(),
        }
    }

    /// `become` as this host needs it: the password is fed only where sudo asks for one.
    async fn settle(&self, as_: Become) -> Become {
        super::settle_become(&self.sudo_free, as_, || async {
            self.exec(ExecRequest::shell(super::SUDO_NEEDS_NO_PASSWORD))
                .await
                .map(|o| o.success())
        })
        .await
    }

    fn address(&self) -> String {
        format!(
            "{}:{}",
            self.host.address.as_deref().unwrap_or(&self.host.name),
            self.host.port
        )
    }

    fn err(&self, kind: ErrorKind, message: String) -> TransportError {
        TransportError {
            host: self.host.name.clone(),
            kind,
            message,
        }
    }

    /// The session, opened on first use; a failed connection is remembered for the rest of the run.
    async fn session(&self) -> Result<Arc<Session>, TransportError> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref() {
            return s.clone();
        }
        let mut b = SessionBuilder::default();
        b.connect_timeout(self.opts.connect_timeout)
            .server_alive_interval(Duration::from_secs(5))
            .control_directory(&self.opts.control_dir)
            // A controller killed outright cannot close its master: the master leaves on its own
            // once idle this long. A run idle longer reopens the connection on its next command.
            .control_persist(ControlPersist::IdleFor(MASTER_IDLE))
            .known_hosts_check(if self.opts.accept_new_host_keys {
                KnownHosts::Add
            } else {
                KnownHosts::Strict
            })
            .port(self.host.port);
        if let Some(u) = &self.host.user {
            b.user(u.clone());
        }
        if let Some(k) = &self.host.key_file {
            b.keyfile(expand_home(k));
        }
        if let Some(k) = &self.opts.known_hosts {
            b.user_known_hosts_file(k);
        }
        let address = self
            .host
            .address
            .clone()
            .unwrap_or_else(|| self.host.name.clone());
        // Waiting for a turn is not part of the host's time to answer.
        let _turn = self.opts.connecting.acquire().await;
        let mut attempt = 1;
        let result = loop {
            let outcome = match tokio::time::timeout(
                self.opts.connect_timeout + Duration::from_secs(5),
                b.connect_mux(&address),
            )
            .await
            {
                Ok(Ok(s)) => Ok(Arc::new(s)),
                Ok(Err(e)) => Err((
                    errors::timed_out(&e),
                    self.classify(&e.to_string(), &errors::source_text(&e)),
                )),
                Err(_) => Err((true, self.err(ErrorKind::Unreachable, format!("cannot reach {} within {}s: the host does not answer; check the address and port in master.yml, and that the host is up", self.address(), self.opts.connect_timeout.as_secs())))),
            };
            match outcome {
                // A handshake that ran out of time on a busy controller (hundreds of connections
                // being opened, a backup compressing) is tried again before the host is called
                // unreachable; a refusal or a wrong key is final at once.
                Err((true, _)) if attempt < CONNECT_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250 * attempt)).await;
                }
                Ok(s) => break Ok(s),
                Err((_, e)) => break Err(e),
            }
        };
        *slot = Some(result.clone());
        result
    }

    fn lost(&self, e: impl std::fmt::Display) -> TransportError {
        self.err(ErrorKind::Disconnected, format!("lost the connection to {} ({e}); the host may have gone down or the network dropped", self.address()))
    }

    /// Runs a command; returns its child with piped stdio. When the connection has dropped since
    /// the last command (its master is gone: a network cut, sshd restarted), one new connection is
    /// opened and the command started on it: the command had not started, so this is safe, and the
    /// run can still roll back on a host whose connection was cut mid-step.
    async fn spawn(&self, line: String) -> Result<openssh::Child<Arc<Session>>, TransportError> {
        let session = self.session().await?;
        let start = |s: Arc<Session>, line: String| async move {
            let mut cmd = Session::to_raw_command(s, line);
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().await
        };
        match start(session.clone(), line.clone()).await {
            Ok(child) => Ok(child),
            Err(first) => {
                if session.check().await.is_ok() {
                    return Err(self.lost(first));
                }
                {
                    let mut slot = self.session.lock().await;
                    if matches!(slot.as_ref(), Some(Ok(s)) if Arc::ptr_eq(s, &session)) {
                        *slot = None;
                    }
                }
                let fresh = self.session().await?;
                start(fresh, line).await.map_err(|e| self.lost(e))
            }
        }
    }
}

/// Gives a pipe a 1 MiB buffer (Linux; 64 KiB by default), so that a bulk copy hands ssh larger
/// pieces with fewer wake-ups. Where that is refused the default stays.
fn widen_pipe(pipe: &impl std::os::fd::AsRawFd) {
    #[cfg(target_os = "linux")]
    // SAFETY: fcntl on a file descriptor the pipe owns for the whole call; failure is harmless.
    unsafe {
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
}

/// `~/x` as a path under $HOME; anything else as it is.
pub fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// `export K='v'` lines for the environment, sent on stdin.
fn env_script(req: &ExecRequest) -> String {
    req.env
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", quote(v.expose())))
        .collect()
}

/// The remote command line: a fixed bootstrap, the command itself (never a secret), no values.
fn remote_line(req: &ExecRequest, env_len: usize, tag: &str) -> String {
    let program = match &req.program {
        Program::Shell(s) => s.clone(),
        Program::Argv(a) => a.iter().map(|x| quote(x)).collect::<Vec<_>>().join(" "),
    };
    let program = match &req.cwd {
        Some(dir) => format!("cd {} && {program}", quote(dir)),
        None => program,
    };
    let inner = if env_len > 0 {
        format!("eval \"$(head -c {env_len})\"; {}", super::BOOT)
    } else {
        super::BOOT.to_string()
    };
    let shell = format!("sh -c {} {} {}", quote(&inner), quote(tag), quote(&program));
    match super::sudo_words(&req.become_) {
        None => shell,
        Some(words) => {
            let sudo: Vec<String> = words.iter().map(|w| quote(w)).collect();
            format!("{} {shell}", sudo.join(" "))
        }
    }
}

impl Transport for Ssh {
    fn connect(&self) -> Done<'_, ()> {
        Box::pin(async move { self.session().await.map(|_| ()) })
    }

    fn exec(&self, mut req: ExecRequest) -> Done<'_, ExecOutput> {
        Box::pin(async move {
            req.become_ = self.settle(req.become_.take()).await;
            let env = env_script(&req);
            let line = remote_line(&req, env.len(), &self.opts.tag);
            let mut child = self.spawn(line).await?;
            let stdin = child.stdin().take().expect("piped");
            let stdout = child.stdout().take().expect("piped");
            let stderr = child.stderr().take().expect("piped");
            let password = req.become_.clone().flatten();
            let input = req.stdin.take();
            let feed = feed(stdin, password, env.into_bytes(), input);
            let wait = async { child.wait().await.map_err(|e| self.lost(e)) };
            exchange(feed, stdout, stderr, req.cap, wait).await
        })
    }

    fn stream(&self, mut req: ExecRequest) -> Done<'_, Reader> {
        Box::pin(async move {
            req.become_ = self.settle(req.become_.take()).await;
            let env = env_script(&req);
            let line = remote_line(&req, env.len(), &self.opts.tag);
            let mut child = self.spawn(line).await?;
            let stdin = child.stdin().take().expect("piped");
            let password = req.become_.clone().flatten();
            tokio::spawn(feed(stdin, password, env.into_bytes(), None));
            let out = child.stdout().take().expect("piped");
            let err = child.stderr().take().expect("piped");
            let err = tokio::spawn(read_capped(err, 64 * 1024));
            let done = Box::pin(async move {
                let status = async {
                    child
                        .wait()
                        .await
                        .map(|s| s.code())
                        .map_err(std::io::Error::other)
                };
                super::command_ended(err, status).await
            });
            Ok(Box::new(super::Streamed::new(Box::new(out), done)) as Reader)
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
            let password = as_.clone().flatten();
            let shell = |line: String| ExecRequest {
                become_: as_.clone(),
                ..ExecRequest::shell(line)
            };
            let tmp = format!("{path}.setup-tmp-{}", std::process::id());
            let dir = std::path::Path::new(path)
                .parent()
                .map(|p| p.display().to_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| ".".into());
            // The digest is computed here as the bytes stream out (SSH's own integrity checks cover
            // the way); the host confirms how many bytes landed before anything is renamed.
            let t = quote(&tmp);
            // The temporary name is made afresh (`set -C`: never written through a link planted
            // there), and a link at the destination is replaced, never followed.
            let line = format!(
                "mkdir -p {} && rm -f {t} && set -C && cat > {t} && wc -c < {t}",
                quote(&dir)
            );
            let mut child = self
                .spawn(remote_line(&shell(line), 0, &self.opts.tag))
                .await?;
            let mut stdin = child.stdin().take().expect("piped");
            widen_pipe(&stdin);
            let stdout = child.stdout().take().expect("piped");
            let stderr = child.stderr().take().expect("piped");
            let send = async move {
                if let Some(p) = password {
                    stdin
                        .write_all(format!("{}\n", p.expose()).as_bytes())
                        .await?;
                }
                let written = copy_hashing(&mut data, &mut stdin).await?;
                stdin.shutdown().await?;
                Ok::<_, std::io::Error>(written)
            };
            let (sent, (out, _), (err, _)) =
                tokio::join!(send, read_capped(stdout, 4096), read_capped(stderr, 4096));
            let status = child.wait().await.map_err(|e| self.lost(e))?;
            let sent = sent.map_err(|e| self.lost(e));
            let rm = shell(format!("rm -f {}", quote(&tmp)));
            let cleanup = |this: &'a Self| async move {
                let _ = this.exec(rm).await;
            };
            let written = match sent {
                Ok(w) => w,
                Err(e) => {
                    cleanup(self).await;
                    return Err(e);
                }
            };
            if !status.success() {
                cleanup(self).await;
                return Err(self.err(ErrorKind::Io, format!("writing {path}: {}", err.trim())));
            }
            let sent = written.bytes;
            let landed: Option<u64> = out.trim().parse().ok();
            if landed != Some(sent) {
                cleanup(self).await;
                return Err(self.err(
                    ErrorKind::Io,
                    format!(
                        "writing {path}: {} of {sent} bytes landed{}",
                        landed.map_or("an unknown number".to_string(), |n| n.to_string()),
                        if err.trim().is_empty() {
                            String::new()
                        } else {
                            format!(": {}", err.trim())
                        }
                    ),
                ));
            }
            let chmod = mode
                .map(|m| format!("chmod {m:o} {} && ", quote(&tmp)))
                .unwrap_or_default();
            let mv = self
                .exec(shell(format!(
                    "{chmod}p={}; if [ -L \"$p\" ]; then rm -f \"$p\"; elif [ -d \"$p\" ]; then echo \"$p is a folder\" >&2; exit 1; fi; mv -f {} \"$p\"",
                    quote(path),
                    quote(&tmp)
                )))
                .await?;
            if !mv.success() {
                return Err(self.err(
                    ErrorKind::Io,
                    format!("renaming into {path}: {}", mv.stderr.trim()),
                ));
            }
            Ok(written)
        })
    }

    fn get<'a>(&'a self, path: &'a str, as_: Become) -> Done<'a, Reader> {
        Box::pin(async move {
            let as_ = self.settle(as_).await;
            let shell = |line: String| ExecRequest {
                become_: as_.clone(),
                ..ExecRequest::shell(line)
            };
            let sum = self
                .exec(shell(format!("sha256sum {}", quote(path))))
                .await?;
            if !sum.success() {
                return Err(self.err(
                    ErrorKind::Io,
                    format!("cannot read {path}: {}", sum.stderr.trim()),
                ));
            }
            let expected = sum
                .stdout
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let mut child = self
                .spawn(remote_line(
                    &shell(format!("cat {}", quote(path))),
                    0,
                    &self.opts.tag,
                ))
                .await?;
            let stdin = child.stdin().take().expect("piped");
            tokio::spawn(feed(stdin, as_.flatten(), Vec::new(), None));
            let stdout = child.stdout().take().expect("piped");
            Ok(Box::new(Verified {
                inner: Box::new(stdout),
                hasher: Sha256::new(),
                expected,
                path: path.to_string(),
                _child: child,
            }) as Reader)
        })
    }

    fn close(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            if let Some(Ok(s)) = self.session.lock().await.take()
                && let Ok(s) = Arc::try_unwrap(s)
            {
                let _ = s.close().await;
            }
        })
    }
}

mod errors;
mod verified;
use verified::Verified;

#[cfg(test)]
mod tests;

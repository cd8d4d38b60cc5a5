//! How commands and files reach a host. `local` runs on this machine; `ssh` plugs into the same trait.

pub mod local;
pub mod ssh;
mod streams;

use std::path::Path;
use std::sync::Arc;

use crate::docs::inventory::{Connection, Host};

use std::future::Future;
use std::pin::Pin;

use tokio::io::AsyncRead;

use crate::secret::Secret;

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type Reader = Box<dyn AsyncRead + Send + Unpin>;

/// What to run: through `sh -c`, or an argument vector with no shell.
#[derive(Clone, Debug)]
pub enum Program {
    Shell(String),
    Argv(Vec<String>),
}

impl Program {
    /// The command as one shell line.
    pub fn line(&self) -> String {
        match self {
            Program::Shell(s) => s.clone(),
            Program::Argv(a) => a.iter().map(|x| quote(x)).collect::<Vec<_>>().join(" "),
        }
    }
}

/// An environment value; secrets are kept as secrets until handed to the process.
#[derive(Clone, Debug)]
pub enum EnvValue {
    Plain(String),
    Secret(Secret),
}

impl EnvValue {
    pub fn expose(&self) -> &str {
        match self {
            EnvValue::Plain(s) => s,
            EnvValue::Secret(s) => s.expose(),
        }
    }
}

/// Who a command or file operation runs as: `None` the login itself, `Some(password)` root
/// through sudo (the password, if any, fed on stdin with `sudo -k -S`).
pub type Become = Option<Option<Secret>>;

/// The name every command's shell runs under (its `$0`) in run `run`: `setup-run-<run id>`. A later
/// run that takes over the lock of a run that is gone finds by it what that run left running.
pub fn run_tag(run: &str) -> String {
    format!("setup-run-{run}")
}

/// The shell script that runs its first argument and then exits with its status. Never ending in
/// the command itself keeps the shell (and so the run's tag, its `$0`) alive while the command runs.
pub const BOOT: &str = "eval \"$1\"; exit";

/// The command that tells whether sudo on a host runs `sh` as root without a password (NOPASSWD);
/// `-k` ignores a cached login, so a success means no password is ever asked.
pub const SUDO_NEEDS_NO_PASSWORD: &str = "sudo -k -n -- sh -c : 2>/dev/null";

/// The sudo words for a `become`: with a password, `-k -S` (a cached login is ignored, so sudo always
/// reads the password it is fed and never leaves it to the command); without, `-n` (fail, never ask).
pub fn sudo_words(as_: &Become) -> Option<&'static [&'static str]> {
    match as_ {
        None => None,
        Some(Some(_)) => Some(&["sudo", "-k", "-S", "-p", "", "--"]),
        Some(None) => Some(&["sudo", "-n", "--"]),
    }
}

/// `become` as it is used on one host: a password is fed only where sudo asks for one. A host whose
/// sudo asks none (NOPASSWD) would otherwise pass the password on to the command as its input, so
/// there the password is dropped. `probe` runs [`SUDO_NEEDS_NO_PASSWORD`] as the login and says
/// whether it succeeded; its answer is kept for the host, unless the host could not be asked.
pub async fn settle_become<F>(
    known: &tokio::sync::OnceCell<bool>,
    as_: Become,
    probe: impl FnOnce() -> F,
) -> Become
where
    F: std::future::Future<Output = Result<bool, TransportError>>,
{
    match as_ {
        Some(Some(p)) => match known.get_or_try_init(probe).await {
            Ok(true) => Some(None),
            _ => Some(Some(p)),
        },
        other => other,
    }
}

pub struct ExecRequest {
    pub program: Program,
    pub env: Vec<(String, EnvValue)>,
    pub stdin: Option<Reader>,
    pub cwd: Option<String>,
    /// Run through sudo; the password, if any, is fed on stdin with `sudo -k -S`.
    pub become_: Become,
    /// Bytes kept of stdout and of stderr each.
    pub cap: usize,
}

impl ExecRequest {
    pub fn shell(cmd: impl Into<String>) -> Self {
        ExecRequest::new(Program::Shell(cmd.into()))
    }

    pub fn new(program: Program) -> Self {
        ExecRequest {
            program,
            env: Vec::new(),
            stdin: None,
            cwd: None,
            become_: None,
            cap: 64 * 1024,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ExecOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Unreachable,
    Auth,
    HostKey,
    Disconnected,
    Io,
}

#[derive(Debug, Clone)]
pub struct TransportError {
    pub host: String,
    pub kind: ErrorKind,
    pub message: String,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "host `{}`: {}", self.host, self.message)
    }
}

impl std::error::Error for TransportError {}

/// What a transport operation gives, later.
pub type Done<'a, T> = BoxFut<'a, Result<T, TransportError>>;

pub trait Transport: Send + Sync {
    fn exec(&self, req: ExecRequest) -> Done<'_, ExecOutput>;
    /// Streams `data` into `path`: written under a temporary name, renamed when complete; as the
    /// login or, with `as_`, as root (a step's `become` holds for its files as for its commands).
    fn put<'a>(
        &'a self,
        path: &'a str,
        data: Reader,
        mode: Option<u32>,
        as_: Become,
    ) -> Done<'a, Written>;
    /// Streams a file from the host, read as the login or, with `as_`, as root.
    fn get<'a>(&'a self, path: &'a str, as_: Become) -> Done<'a, Reader>;
    /// Runs a command and streams what it writes on stdout. The stream ends in an error, naming the
    /// command's exit and stderr, when the command fails: never a clean end to a short output.
    fn stream(&self, req: ExecRequest) -> Done<'_, Reader>;
    /// Opens the connection (a no-op where there is none to open), so that a caller can time what
    /// the host does apart from how long reaching it took.
    fn connect(&self) -> Done<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    /// Closes connections at the end of a run.
    fn close(&self) -> BoxFut<'_, ()> {
        Box::pin(async {})
    }
}

pub use streams::{Written, copy_hashing, fill, read_capped};

pub use crate::template::shell_quote as quote;

/// What a command reads on stdin, in order: the sudo password, a preamble (the environment
/// script), then the caller's input; then stdin is closed.
pub async fn feed(
    mut stdin: impl tokio::io::AsyncWrite + Unpin,
    password: Option<crate::secret::Secret>,
    preamble: Vec<u8>,
    input: Option<Reader>,
) {
    use tokio::io::AsyncWriteExt;
    if let Some(p) = password {
        let _ = stdin
            .write_all(format!("{}\n", p.expose()).as_bytes())
            .await;
    }
    let _ = stdin.write_all(&preamble).await;
    if let Some(mut r) = input {
        let _ = tokio::io::copy(&mut r, &mut stdin).await;
    }
    let _ = stdin.shutdown().await;
}

/// Feeds a command's stdin while reading its stdout and stderr (each kept to `cap` bytes), then
/// waits for its exit status.
pub async fn exchange<E>(
    feed: impl std::future::Future<Output = ()>,
    stdout: impl AsyncRead + Unpin,
    stderr: impl AsyncRead + Unpin,
    cap: usize,
    wait: impl std::future::Future<Output = Result<std::process::ExitStatus, E>>,
) -> Result<ExecOutput, E> {
    let ((), (stdout, t1), (stderr, t2)) =
        tokio::join!(feed, read_capped(stdout, cap), read_capped(stderr, cap));
    Ok(ExecOutput {
        code: wait.await?.code(),
        stdout,
        stderr,
        truncated: t1 || t2,
    })
}

/// What finishes a stream once its bytes end: a command's exit, a sealing task.
pub type Ended = BoxFut<'static, std::io::Result<()>>;

/// A stream whose end waits for the work that fills it: a failure there is an error at the end,
/// never a clean end to short output.
pub struct Streamed {
    out: Reader,
    done: Option<Ended>,
}

impl Streamed {
    pub fn new(out: Reader, done: Ended) -> Streamed {
        Streamed {
            out,
            done: Some(done),
        }
    }
}

impl AsyncRead for Streamed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut self.out).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before => {}
            other => return other,
        }
        let Some(done) = self.done.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        match done.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.done = None;
                Poll::Ready(r)
            }
        }
    }
}

/// A streamed command's end: its exit code and the last line of its (capped) stderr.
pub async fn command_ended(
    err: tokio::task::JoinHandle<(String, bool)>,
    status: impl Future<Output = std::io::Result<Option<i32>>>,
) -> std::io::Result<()> {
    let err = err.await.map(|e| e.0).unwrap_or_default();
    match status.await? {
        Some(0) => Ok(()),
        code => Err(std::io::Error::other(format!(
            "the command {}: {}",
            code.map_or("was killed".to_string(), |c| format!("exited {c}")),
            err.trim().lines().last().unwrap_or("no message")
        ))),
    }
}

/// The transport for a host's connection type.
pub fn for_host(host: &Host, base: &Path, ssh: &ssh::SshOptions) -> Arc<dyn Transport> {
    match host.connection {
        Connection::Local => Arc::new(local::Local::new(&host.name, base, &ssh.tag)),
        // Unsupported hosts never get this far: the world refuses a run that would use one.
        Connection::Ssh | Connection::Unsupported => {
            let mut opts = ssh.clone();
            if let Some(k) = &host.known_hosts {
                opts.known_hosts = Some(base.join(k));
            }
            Arc::new(ssh::Ssh::new(host, opts))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_become_password_goes_only_where_sudo_asks_for_it() {
        let pw = || Some(Some(Secret::new("pw")));
        let asks = |b: bool| move || async move { Ok::<_, TransportError>(b) };
        let free = tokio::sync::OnceCell::new();
        assert!(matches!(
            settle_become(&free, pw(), asks(true)).await,
            Some(None)
        ));
        // Asked once: the answer is kept for the host.
        assert!(matches!(
            settle_become(&free, pw(), asks(false)).await,
            Some(None)
        ));
        let needs = tokio::sync::OnceCell::new();
        assert!(matches!(
            settle_become(&needs, pw(), asks(false)).await,
            Some(Some(_))
        ));
        assert!(settle_become(&needs, None, asks(true)).await.is_none());
        // A host that cannot be asked keeps the password and is asked again next time.
        let down = tokio::sync::OnceCell::new();
        let fails = || async {
            Err(TransportError {
                host: "h".into(),
                kind: ErrorKind::Disconnected,
                message: "gone".into(),
            })
        };
        assert!(matches!(
            settle_become(&down, pw(), fails).await,
            Some(Some(_))
        ));
        assert!(matches!(
            settle_become(&down, pw(), asks(true)).await,
            Some(None)
        ));
        assert_eq!(sudo_words(&pw()).unwrap()[..3], ["sudo", "-k", "-S"]);
        assert_eq!(sudo_words(&Some(None)).unwrap()[..2], ["sudo", "-n"]);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a/b.c"), "a/b.c");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }
}

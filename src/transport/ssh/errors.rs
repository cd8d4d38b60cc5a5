//! What ssh says when a connection fails, turned into errors that name the host and the fix.

use super::{ErrorKind, Ssh, TransportError};

impl Ssh {
    /// Turns ssh's own words into an error that names the host, its address and the fix.
    pub(super) fn classify(&self, summary: &str, detail: &str) -> TransportError {
        let text = format!("{summary}: {detail}");
        let addr = self.address();
        let user = self
            .host
            .user
            .clone()
            .unwrap_or_else(|| "the current user".into());
        let last = detail
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or(summary)
            .to_string();
        if text.contains("Host key verification failed")
            || text.contains("HOST IDENTIFICATION HAS CHANGED")
            || text.contains("host key is known")
        {
            let known = self
                .opts
                .known_hosts
                .as_ref()
                .map_or("~/.ssh/known_hosts".to_string(), |p| {
                    p.display().to_string()
                });
            let host = self.host.address.as_deref().unwrap_or(&self.host.name);
            let port = self.host.port;
            return if text.contains("HAS CHANGED") || text.contains("Offending") {
                self.err(ErrorKind::HostKey, format!("the host key of {addr} does not match the one in {known} ({last}); refusing to connect: if the host was rebuilt, verify its new key and replace the old one (`ssh-keygen -R '[{host}]:{port}'`)"))
            } else {
                self.err(ErrorKind::HostKey, format!("the host key of {addr} is not the one recorded in {known}, or is missing from it ({last}); verify the key and add it to that file (for a host never seen before, --accept-new-host-keys records it), or name the file that holds it as `known_hosts:` in master.yml (a host's, or under `defaults:`; an Ansible inventory: `ansible_ssh_common_args: -o UserKnownHostsFile=FILE`); if the host was rebuilt replace the old key (`ssh-keygen -R '[{host}]:{port}'`)"))
            };
        }
        if text.contains("Permission denied") || text.contains("Too many authentication failures") {
            let key = self
                .host
                .key_file
                .clone()
                .unwrap_or_else(|| "the default keys and agent".into());
            return self.err(ErrorKind::Auth, format!("{addr} refused the login of {user} with {key} ({last}); check `user` and `key_file` for this host in master.yml, and that the public key is in the host's authorized_keys"));
        }
        if text.contains("Connection refused")
            || text.contains("timed out")
            || text.contains("No route to host")
            || text.contains("Could not resolve")
            || text.contains("Name or service not known")
            || text.contains("Network is unreachable")
            || text.contains("Connection closed")
            || text.contains("Connection reset")
        {
            return self.err(ErrorKind::Unreachable, format!("cannot reach {addr} ({last}); check the address and port for this host in master.yml, and that sshd runs there"));
        }
        self.err(
            ErrorKind::Unreachable,
            format!("cannot connect to {addr}: {last}"),
        )
    }
}

/// The causes under an openssh error, one per line (ssh's own words are in them).
pub(super) fn source_text(e: &openssh::Error) -> String {
    let mut out = String::new();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = cur {
        out.push_str(&s.to_string());
        out.push('\n');
        cur = s.source();
    }
    out
}

/// Whether ssh gave up because the handshake took too long (not a refusal or a key it distrusts).
pub(super) fn timed_out(e: &openssh::Error) -> bool {
    let text = format!("{e}\n{}", source_text(e));
    text.contains("timed out") || text.contains("Connection timed out")
}

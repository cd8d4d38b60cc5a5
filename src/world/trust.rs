//! Trust in backups, set before anything runs: which keys a restore trusts, and the key a backup
//! signs with. Either missing or unusable is bad input.

use std::path::Path;

use crate::answers::Answers;
use crate::diag::{Diag, Diagnostics};
use crate::options::Options;

/// The run's trust in backups; a run that reads backups needs `trusted_signers` or
/// `--allow-unsigned` (bad input otherwise: nothing has been touched).
pub fn trust_of(
    o: &Options,
    answers: &Answers,
    required: bool,
    diags: &mut Diagnostics,
) -> crate::authentic::Trust {
    let trust = crate::authentic::Trust::from_answers(answers, &o.dir, o.allow_unsigned).map(|t| {
        if o.check {
            // A `--check` writes nothing, not even the record of what it saw.
            crate::authentic::Trust {
                seen: std::sync::Arc::new(crate::authentic::Seen::read_only(&o.dir)),
                ..t
            }
        } else {
            t
        }
    });
    let problem = match &trust {
        Ok(t) if required => t.required().err(),
        Ok(_) => None,
        Err(e) => Some(e.clone()),
    };
    if let Some(message) = problem {
        let d = match answers.get("trusted_signers") {
            Some(a) => a.diag("trusted_signers", message, "this allowed_signers file"),
            // None given: a missing answer, listed with the others.
            None => crate::answers::missing(
                "trusted_signers",
                "no trusted_signers is given, so no backup can be authenticated",
            )
            .help(crate::authentic::HOW_TO_TRUST),
        };
        diags.push(d);
    }
    trust.unwrap_or_else(|_| crate::authentic::Trust::nothing())
}

/// The DC's signing key, opened (with `signing_key_passphrase` when it has one); a key that cannot
/// be used is a diagnostic at backup.yml's `signing_key`.
pub(super) fn signing_key_of(
    backup: &crate::docs::backup::BackupSpec,
    answers: &Answers,
    dir: &Path,
    diags: &mut Diagnostics,
) -> Option<std::sync::Arc<crate::authentic::SigningKey>> {
    let (path, src, span) = backup.signing_key.as_ref()?;
    let file = dir.join(crate::transport::ssh::expand_home(path));
    let passphrase = answers.secret("signing_key_passphrase");
    match crate::authentic::SigningKey::load(&file, passphrase.as_ref()) {
        Ok(k) => Some(std::sync::Arc::new(k)),
        Err(e) => {
            diags.push(
                Diag::at("signing_key", src, *span, e)
                    .label("this key")
                    .help("signing_key is an Ed25519 OpenSSH private key file, relative to the DC's folder"),
            );
            None
        }
    }
}

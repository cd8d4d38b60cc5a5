//! Authentic backups: the DC signs each backup's manifest with an Ed25519 key (an OpenSSH signature,
//! as `ssh-keygen -Y sign -n setup-backup` makes, stored as `NAME.manifest.json.sig`); the DR site
//! restores only what a key of its `allowed_signers` file signed. Storage is not trusted: whoever can
//! write to it can encrypt to the public recipients, but cannot sign.
//!
//! The signed manifest names the object, its kind, when it was taken and the sha256 of its stored
//! and plain bytes, so a checked signature vouches for all of them: the object must then hash to the
//! signed digest as it streams, before anything is put in place.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value as J;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use crate::secret::Secret;
use crate::storage::Storage;

mod manifest;
mod seen;
mod signers;
pub use manifest::{Digest, Encryption, Manifest};
#[cfg(test)]
mod tests;

pub use seen::Seen;
pub use signers::AllowedSigners;
use signers::{Signer, matches};

/// The signature namespace: a signature made for anything else never verifies as a backup's.
pub const NAMESPACE: &str = "setup-backup";
pub use crate::storage::SIG_SUFFIX;
/// How far a signed time may lie ahead of this machine's clock (clocks drift).
const SKEW_SECONDS: i64 = 600;
/// Larger manifests or signatures are not read: a real one is a few KiB.
const MANIFEST_LIMIT: u64 = 1 << 20;
const SIG_LIMIT: u64 = 64 << 10;

/// How to trust a key, for messages that refuse a backup for want of one.
pub const HOW_TO_TRUST: &str = "give the DC's public signing key in an allowed_signers file (a line `backup@dc namespaces=\"setup-backup\" ssh-ed25519 AAAA...`, as ssh-keygen reads it) and name that file as the answer trusted_signers (e.g. SETUP_TRUSTED_SIGNERS); --allow-unsigned restores unsigned backups anyway";

/// The DC's signing key, read from an OpenSSH private key file (decrypted with its passphrase).
pub struct SigningKey(PrivateKey);

impl SigningKey {
    pub fn load(path: &std::path::Path, passphrase: Option<&Secret>) -> Result<SigningKey, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("the signing key {shown} cannot be read: {e}"))?;
        let key = PrivateKey::from_openssh(text.trim_start()).map_err(|e| {
            format!("the signing key {shown} is not an OpenSSH private key ({e}): make one with `ssh-keygen -t ed25519 -f {shown}`")
        })?;
        let key = if key.is_encrypted() {
            let Some(p) = passphrase else {
                return Err(format!(
                    "the signing key {shown} is protected by a passphrase: give it as the answer signing_key_passphrase (e.g. SETUP_SIGNING_KEY_PASSPHRASE)"
                ));
            };
            key.decrypt(p.expose()).map_err(|_| {
                format!("the signing key {shown} does not open with the passphrase given as signing_key_passphrase")
            })?
        } else {
            key
        };
        if !matches!(key.key_data(), ssh_key::private::KeypairData::Ed25519(_)) {
            return Err(format!(
                "the signing key {shown} is a {} key: backups are signed with Ed25519 (`ssh-keygen -t ed25519`)",
                key.algorithm()
            ));
        }
        Ok(SigningKey(key))
    }

    /// What this key signs, as an allowed_signers list of one: how the DC checks its own backups.
    pub fn own(&self) -> AllowedSigners {
        AllowedSigners::of_key(
            "this DC's signing key",
            self.0.public_key().key_data().clone(),
        )
    }

    /// The armored signature of `manifest` (`-----BEGIN SSH SIGNATURE-----`).
    pub fn sign(&self, manifest: &[u8]) -> Result<String, String> {
        self.0
            .sign(NAMESPACE, HashAlg::Sha512, manifest)
            .and_then(|s| s.to_pem(LineEnding::LF))
            .map_err(|e| format!("signing the manifest: {e}"))
    }
}

/// What this site requires of a backup before it is read.
#[derive(Clone, Debug)]
pub struct Trust {
    /// The keys whose signatures are accepted (answer `trusted_signers`).
    pub signers: Option<Arc<AllowedSigners>>,
    /// `--allow-unsigned`: a backup with no signature is read anyway (and said to be).
    pub allow_unsigned: bool,
    /// An `age_identity` is given: this site's backups are encrypted, a plain object is refused.
    pub expect_encrypted: bool,
    pub now: DateTime<Utc>,
    /// When this site first saw each signed manifest: the time a key's validity is judged at.
    pub seen: Arc<Seen>,
}

impl Trust {
    /// The trust of a run: `trusted_signers` read (a relative path is taken from the documents'
    /// folder), `--allow-unsigned`, and whether an `age_identity` says backups are encrypted.
    /// Its clock is the machine's, not `--now`: a signed time ahead of the real present is refused
    /// whatever date the run simulates, and a key's `valid-before` is judged at that clock (or at
    /// the time this site first saw the backup, `seen`), never at a time the signer wrote.
    pub fn from_answers(
        answers: &crate::answers::Answers,
        dir: &std::path::Path,
        allow_unsigned: bool,
    ) -> Result<Trust, String> {
        let now = Utc::now();
        let signers = match answers.text("trusted_signers") {
            Some(p) => Some(Arc::new(AllowedSigners::load(&dir.join(p))?)),
            None => None,
        };
        Ok(Trust {
            signers,
            allow_unsigned,
            expect_encrypted: answers.get("age_identity").is_some(),
            now,
            seen: Arc::new(Seen::load(dir)),
        })
    }

    /// A run that reads backups needs a key to trust them by, or `--allow-unsigned`.
    pub fn required(&self) -> Result<(), String> {
        match (&self.signers, self.allow_unsigned) {
            (None, false) => Err(format!(
                "no trusted_signers is given, so no backup can be authenticated: {HOW_TO_TRUST}"
            )),
            _ => Ok(()),
        }
    }

    /// No key trusted, nothing let through: a run whose trusted_signers cannot be read (it is
    /// refused before it runs).
    pub fn nothing() -> Trust {
        Trust {
            signers: None,
            allow_unsigned: false,
            expect_encrypted: false,
            now: Utc::now(),
            seen: Arc::default(),
        }
    }
}

/// What the check found: the digest the stored bytes must have, and who vouched for it.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    /// The stored bytes' sha256 from the manifest (signed unless `unsigned`); `None` when there is
    /// no manifest, and the sidecar is all there is.
    pub stored_sha256: Option<String>,
    /// The plain tar's sha256, when the manifest records it.
    pub plain_sha256: Option<String>,
    /// The principals of the key that signed it.
    pub signer: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// Read without a checked signature, as `--allow-unsigned` allows.
    pub unsigned: bool,
    pub manifest: Option<Manifest>,
}

impl Verified {
    /// How it was vouched for, for messages: `signed by PRINCIPALS` or `UNSIGNED`.
    pub fn by(&self) -> String {
        match &self.signer {
            Some(s) if !self.unsigned => format!("signed by {s}"),
            _ => "UNSIGNED (--allow-unsigned)".to_string(),
        }
    }
}

/// The manifest's claims about `object`, checked: it names this object, its time is not ahead of
/// the clock, it carries the stored digest.
fn read_manifest(object: &str, text: &str, now: DateTime<Utc>) -> Result<Verified, String> {
    let m: J = serde_json::from_str(text).map_err(|e| format!("its manifest is not JSON: {e}"))?;
    if !m.is_object() {
        return Err("its manifest is not a JSON object".into());
    }
    let m: Manifest =
        serde_json::from_value(m).map_err(|e| format!("its manifest is not one: {e}"))?;
    let named = m.object.as_str();
    if named != object {
        return Err(format!(
            "its manifest was written for `{}`, not for this name: a backup copied under another name",
            crate::storage::shown(named)
        ));
    }
    let created_at = DateTime::parse_from_rfc3339(&m.created_at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .ok_or("its manifest has no `created_at` time")?;
    if created_at > now + chrono::Duration::seconds(SKEW_SECONDS) {
        return Err(format!(
            "its manifest says it was taken at {}, which lies in the future",
            created_at.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    let stored = (m.stored.as_ref())
        .and_then(Digest::sha256)
        .ok_or("its manifest has no stored sha256")?;
    Ok(Verified {
        stored_sha256: Some(stored),
        plain_sha256: m.plain.as_ref().and_then(Digest::sha256),
        created_at: Some(created_at),
        manifest: Some(m),
        ..Verified::default()
    })
}

/// The verdict on `object` from the texts of its manifest and of its signature (`None`: not in
/// storage). Pure: every refusal is an error naming the reason.
pub fn judge(
    object: &str,
    manifest: Option<&str>,
    sig: Option<&str>,
    trust: &Trust,
) -> Result<Verified, String> {
    if trust.expect_encrypted && !object.ends_with(".age") {
        return Err(
            "it is not encrypted (its name has no .age), and this site's backups are (an age_identity is given)"
                .into(),
        );
    }
    let sig_name = format!("{object}{SIG_SUFFIX}");
    let (Some(manifest), Some(sig_text)) = (manifest, sig) else {
        return match (&trust.signers, trust.allow_unsigned) {
            (_, true) => {
                let mut v = match manifest {
                    Some(text) => read_manifest(object, text, trust.now)?,
                    None => Verified::default(),
                };
                v.unsigned = true;
                Ok(v)
            }
            (Some(_), false) if manifest.is_none() => Err(
                "it has no manifest, so it is not signed: only backups signed by a key in trusted_signers are restored"
                    .to_string(),
            ),
            (Some(_), false) => Err(format!(
                "it is not signed (no `{}` beside it): only backups signed by a key in trusted_signers are restored",
                crate::storage::shown(&sig_name)
            )),
            (None, false) => Err(format!(
                "it cannot be authenticated, since no trusted_signers is given: {HOW_TO_TRUST}"
            )),
        };
    };
    let Some(signers) = &trust.signers else {
        if trust.allow_unsigned {
            let mut v = read_manifest(object, manifest, trust.now)?;
            v.unsigned = true;
            return Ok(v);
        }
        return Err(format!(
            "its signature cannot be checked, since no trusted_signers is given: {HOW_TO_TRUST}"
        ));
    };
    let sig = SshSig::from_pem(sig_text.trim())
        .map_err(|e| format!("its signature is not an SSH signature: {e}"))?;
    if sig.namespace() != NAMESPACE {
        return Err(format!(
            "it is signed for the namespace `{}`, not `{NAMESPACE}`",
            crate::storage::shown(sig.namespace())
        ));
    }
    let key = sig.public_key();
    let fingerprint = key.fingerprint(HashAlg::Sha256);
    let listed: Vec<&Signer> = signers.signers.iter().filter(|s| &s.key == key).collect();
    if listed.is_empty() {
        return Err(format!(
            "it is signed by a key that {} does not list ({fingerprint})",
            signers.path
        ));
    }
    PublicKey::from(key.clone())
        .verify(NAMESPACE, manifest.as_bytes(), &sig)
        .map_err(|_| {
            "its manifest does not match its signature: it was changed after it was signed"
                .to_string()
        })?;
    let mut v = read_manifest(object, manifest, trust.now)?;
    // A key's validity is judged at a time the signer cannot choose: when this site first saw this
    // manifest, else now. The manifest's own `created_at` is the signer's word, and a stolen key
    // would back-date it past the key's retirement.
    let digest = seen::manifest_digest(manifest);
    let first_seen = trust.seen.first(&digest);
    let when = first_seen.unwrap_or(trust.now);
    let for_namespace: Vec<&&Signer> = listed
        .iter()
        .filter(|s| {
            s.namespaces
                .as_ref()
                .is_none_or(|ns| ns.iter().any(|p| matches(p, NAMESPACE)))
        })
        .collect();
    if for_namespace.is_empty() {
        return Err(format!(
            "its key ({fingerprint}) is listed in {}, but not for the namespace `{NAMESPACE}`",
            signers.path
        ));
    }
    let usable = for_namespace.iter().find(|s| {
        s.valid_after.is_none_or(|t| when >= t) && s.valid_before.is_none_or(|t| when < t)
    });
    let Some(signer) = usable else {
        let at = when.format("%Y-%m-%dT%H:%M:%SZ");
        return Err(match first_seen {
            Some(_) => format!(
                "its key ({fingerprint}) is listed in {}, but was not valid when this site first saw this backup ({at})",
                signers.path
            ),
            None => format!(
                "its key ({fingerprint}) is listed in {}, but is not valid now ({at}; this site never saw this backup before): a key retired with valid-before signs nothing new, whatever time the manifest claims",
                signers.path
            ),
        });
    };
    trust.seen.record(&digest, trust.now);
    v.signer = Some(signer.principals.clone());
    Ok(v)
}

/// Reads `object`'s manifest and signature from storage and judges them. Nothing of the object
/// itself is read. With more than one storage target, a copy refused here falls through to the
/// next target that has one.
pub async fn check(storage: &dyn Storage, object: &str, trust: &Trust) -> Result<Verified, String> {
    loop {
        match check_once(storage, object, trust).await {
            Err(why) if storage.reject(object, &why) => {}
            judged => return judged,
        }
    }
}

async fn check_once(
    storage: &dyn Storage,
    object: &str,
    trust: &Trust,
) -> Result<Verified, String> {
    let manifest_name = format!("{object}.manifest.json");
    let read = |name: String, limit: u64| async move {
        crate::storage::read_text(storage, &name, limit)
            .await
            .map_err(|e| e.to_string())
    };
    let manifest = read(manifest_name, MANIFEST_LIMIT).await?;
    let sig = read(format!("{object}{SIG_SUFFIX}"), SIG_LIMIT).await?;
    judge(object, manifest.as_deref(), sig.as_deref(), trust)
}

/// `latest` names the newest configuration backup that this site trusts: among those whose manifest
/// verifies (signed by a trusted key, for this name, not dated in the future), the one with the
/// newest signed time; never by its name alone. With `--allow-unsigned` and no trusted signer, the
/// greatest name (names carry their UTC time). Any other name is itself.
pub async fn resolve_config(
    storage: &dyn Storage,
    name: &str,
    trust: &Trust,
) -> Result<String, crate::storage::StorageError> {
    if name != "latest" {
        return Ok(name.to_string());
    }
    latest(storage, trust).await.map(|(n, _)| n)
}

/// The newest trusted configuration backup, and every newer-named one passed over with the reason.
pub async fn latest(
    storage: &dyn Storage,
    trust: &Trust,
) -> Result<(String, Vec<String>), crate::storage::StorageError> {
    let mut candidates: Vec<String> = storage
        .list("director-config-")
        .await?
        .into_iter()
        .map(|o| o.name)
        .filter(|n| !crate::storage::is_companion(n))
        .collect();
    // Newest name first: with equal signed times the later name wins.
    candidates.sort_by(|a, b| b.cmp(a));
    let mut best: Option<(DateTime<Utc>, String)> = None;
    let mut refused = Vec::new();
    let mut unsigned = None;
    for c in candidates {
        match check(storage, &c, trust).await {
            Ok(v) if !v.unsigned => {
                let at = v.created_at.unwrap_or_default();
                if best.as_ref().is_none_or(|(t, _)| at > *t) {
                    best = Some((at, c));
                }
            }
            // Unsigned, as --allow-unsigned allows: the greatest name, only if nothing signed is there.
            Ok(_) => {
                unsigned.get_or_insert(c);
            }
            Err(why) => refused.push(format!("{}: {why}", crate::storage::shown(&c))),
        }
    }
    if let Some(chosen) = best.map(|(_, n)| n).or(unsigned) {
        // Only what would have been taken by its name is worth a word: older refusals change nothing.
        refused.retain(|r| r.as_str() > chosen.as_str());
        return Ok((chosen, refused));
    }
    Err(crate::storage::StorageError {
        server: storage.describe(),
        op: "list",
        object: "director-config-*".into(),
        message: if refused.is_empty() {
            "no configuration backup to take as `latest`".into()
        } else {
            format!(
                "no configuration backup this site trusts to take as `latest`; refused: {}",
                refused.join("; ")
            )
        },
        not_found: true,
    })
}

/// The refusal of `object` for `why`, as every command words it.
pub fn refused(object: &str, why: &str) -> String {
    format!("backup `{}` refused: {why}", crate::storage::shown(object))
}

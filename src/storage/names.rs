//! Names from storage: which are backups, and how any of them may be shown on a terminal.

/// A name from storage as it may be shown on a terminal: control characters (escape sequences that
/// could erase lines or fake a verdict) are written as `\u{..}` escapes.
pub fn shown(name: &str) -> String {
    if !name.chars().any(char::is_control) {
        return name.to_string();
    }
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A text as it may be shown on a terminal: lines and tabs kept, every other control character
/// (an escape sequence from a name in storage, say) written as a `\u{..}` escape.
pub fn printable(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// What follows an object's name in the name of its manifest's signature.
pub const SIG_SUFFIX: &str = ".manifest.json.sig";

/// Whether a name is a sidecar, a manifest or a manifest's signature rather than a backup.
pub fn is_companion(name: &str) -> bool {
    name.ends_with(".sha256") || name.ends_with(".manifest.json") || name.ends_with(SIG_SUFFIX)
}

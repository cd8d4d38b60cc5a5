//! The test beds of the site's own components: a real MariaDB and a real Redis on loopback, each
//! keeping what it is given, two at once apart, their passwords on no command line; and SQLite's
//! own backup, checked by SQLite.

use crate::common;

use common::mariabed::MariaBed;
use common::redisbed::RedisBed;
use std::path::Path;
use std::process::Command;

/// The server `pid` runs, and no process at all has `password` on its command line.
fn password_on_no_command_line(pid: u32, password: &str) {
    assert!(password.len() >= 32, "a random password: {password:?}");
    let own = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the server runs");
    assert!(!own.is_empty(), "the server's command line");
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(line) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&line).replace('\0', " ");
        assert!(
            !line.contains(password),
            "the password on {}'s command line: {line}",
            e.path().display()
        );
    }
}

/// Both started at the same time, from two threads.
fn two_at_once<T: Send>(start: fn() -> T) -> (T, T) {
    std::thread::scope(|s| {
        let a = s.spawn(start);
        let b = s.spawn(start);
        (a.join().unwrap(), b.join().unwrap())
    })
}

/// Not gone, nor a zombie left for whoever inherited it to reap.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit_once(") ").unwrap().1.starts_with('Z'))
        .unwrap_or(false)
}

#[test]
fn mariadb_keeps_a_row_in_a_database_it_creates_and_drops() {
    let db = MariaBed::start();
    password_on_no_command_line(db.pid, &db.password);
    assert!(!db.databases().contains(&"shop".to_string()));
    db.sql("mysql", "CREATE DATABASE shop");
    db.sql(
        "shop",
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40)) ENGINE=InnoDB; \
         INSERT INTO items VALUES (1, 'keyboard'), (2, 'screen')",
    );
    assert_eq!(
        db.sql("shop", "SELECT id, name FROM items WHERE id = 2"),
        "2\tscreen"
    );
    assert!(db.databases().contains(&"shop".to_string()));
    db.sql("mysql", "DROP DATABASE shop");
    assert!(!db.databases().contains(&"shop".to_string()));
}

#[test]
fn mariadb_wants_the_password() {
    let db = MariaBed::start();
    let wrong = Command::new("mariadb")
        .args(["--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P"])
        .arg(&db.port)
        .args(["-u", "setupdb", "-e", "SELECT 1"])
        .env("MYSQL_PWD", "not-the-password")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("Access denied"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
}

#[test]
fn two_mariadb_beds_at_once_are_apart() {
    let (a, b) = two_at_once(MariaBed::start);
    assert_ne!(a.port, b.port);
    assert_ne!(a.password, b.password);
    assert_ne!(a.pid, b.pid);
    a.sql("mysql", "CREATE DATABASE only_a");
    b.sql("mysql", "CREATE DATABASE only_b");
    assert!(a.databases().contains(&"only_a".to_string()));
    assert!(!a.databases().contains(&"only_b".to_string()));
    assert!(b.databases().contains(&"only_b".to_string()));
    assert!(!b.databases().contains(&"only_a".to_string()));
    let pid = a.pid;
    drop(a);
    assert!(!running(pid), "mariadbd {pid} still runs");
    assert_eq!(b.sql("only_b", "SELECT 40 + 2"), "42");
}

#[test]
fn redis_keeps_a_key_and_its_rdb_dump_passes_redis_check_rdb() {
    let r = RedisBed::start();
    password_on_no_command_line(r.pid, &r.password);
    assert_eq!(r.cli(&["SET", "tenant:1", "acme"]), "OK");
    assert_eq!(r.cli(&["GET", "tenant:1"]), "acme");
    assert_eq!(r.cli(&["DBSIZE"]), "1");

    let rdb = r.dir.path().join("dump.rdb");
    r.cli(&["--rdb", rdb.to_str().unwrap()]);
    let check = |f: &Path| {
        Command::new("redis-check-rdb")
            .arg(f)
            .output()
            .expect("redis-check-rdb (scripts/test installs redis-tools)")
    };
    let ok = check(&rdb);
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{said}");
    assert!(
        said.contains("RDB looks OK") && said.contains("1 keys read"),
        "{said}"
    );

    // The same check turns down a dump cut short.
    let bytes = std::fs::read(&rdb).unwrap();
    let cut = r.dir.path().join("cut.rdb");
    std::fs::write(&cut, &bytes[..bytes.len() - 12]).unwrap();
    assert!(!check(&cut).status.success());
}

#[test]
fn redis_wants_the_password() {
    let r = RedisBed::start();
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &r.port, "GET", "anything"])
        .env_remove("REDISCLI_AUTH")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("NOAUTH"), "{said}");
}

#[test]
fn two_redis_beds_at_once_are_apart() {
    let (a, b) = two_at_once(RedisBed::start);
    assert_ne!(a.port, b.port);
    assert_ne!(a.password, b.password);
    assert_ne!(a.pid, b.pid);
    a.cli(&["SET", "who", "a"]);
    b.cli(&["SET", "who", "b"]);
    assert_eq!(a.cli(&["GET", "who"]), "a");
    assert_eq!(b.cli(&["GET", "who"]), "b");
    let pid = a.pid;
    drop(a);
    assert!(!running(pid), "redis-server {pid} still runs");
    assert_eq!(b.cli(&["GET", "who"]), "b");
}

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 (scripts/test installs it)");
    assert!(
        out.status.success(),
        "sqlite3 {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn sqlite_backup_copy_passes_its_integrity_check() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.db");
    sqlite(
        &live,
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); \
         INSERT INTO notes (body) SELECT hex(randomblob(100)) FROM \
           (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 500) SELECT x FROM n); \
         UPDATE notes SET body = 'first' WHERE id = 1",
    );
    let copy = dir.path().join("copy.db");
    sqlite(&live, &format!(".backup '{}'", copy.display()));
    assert_eq!(sqlite(&copy, "PRAGMA integrity_check"), "ok");
    assert_eq!(
        sqlite(
            &copy,
            "SELECT count(*), (SELECT body FROM notes WHERE id = 1) FROM notes"
        ),
        "500|first"
    );

    // The same check finds a copy whose pages after the first are overwritten.
    let mut bytes = std::fs::read(&copy).unwrap();
    assert!(bytes.len() > 8192, "{} bytes", bytes.len());
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    bytes[page..].fill(0xa5);
    let broken = dir.path().join("broken.db");
    std::fs::write(&broken, &bytes).unwrap();
    let check = Command::new("sqlite3")
        .arg(&broken)
        .arg("PRAGMA integrity_check")
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
}

//! The `ssh` transport on real sshd hosts on loopback (tests/support/sshbed).

use crate::common;

use common::sshbed::SshBed;
use common::{Bed, journal};
use serde_json::Value as J;

fn bed_with(ssh: &SshBed, playbook: &str) -> Bed {
    let bed = Bed::new();
    bed.file("master.yml", &ssh.master()).file(
        "pb.yml",
        &playbook.replace("BED", &ssh.dir().display().to_string()),
    );
    bed
}

fn finished<'a>(j: &'a [J], step: &str, host: &str) -> &'a J {
    j.iter()
        .find(|e| e["event"] == "task_finished" && e["step"] == step && e["host"] == host)
        .unwrap_or_else(|| panic!("{step} on {host} did not finish"))
}

fn at(v: &J) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn a_multi_step_playbook_across_hosts_with_parallel_branches() {
    let ssh = SshBed::start(3);
    let bed = bed_with(
        &ssh,
        "steps:
  - { id: prepare, hosts: bed, shell: 'mkdir -p BED/out/{{ inventory_hostname }} && echo \"$SSH_CONNECTION\"' }
  - { id: left, hosts: host1, needs: [prepare], shell: 'sleep 1; echo left > BED/out/host1/left' }
  - { id: right, hosts: [host2, host3], needs: [prepare], shell: 'sleep 1; echo right > BED/out/{{ inventory_hostname }}/right' }
  - { id: send, hosts: bed, needs: [prepare], copy: { content: \"from {{ inventory_hostname }}\\n\", dest: 'BED/out/{{ inventory_hostname }}/copied' } }
  - { id: join, hosts: bed, needs: [left, right, send], shell: 'cat BED/out/{{ inventory_hostname }}/copied' }
",
    );
    let out = bed.run(&["run", "pb.yml", "-v"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for h in &ssh.hosts {
        assert_eq!(
            std::fs::read_to_string(ssh.path(&format!("out/{}/copied", h.name))).unwrap(),
            format!("from {}\n", h.name)
        );
        assert!(
            out.stdout.contains(&h.address),
            "each command ran through its own host's sshd"
        );
    }
    let j = journal(bed.dir.path());
    let l = finished(&j, "left", "host1");
    let r = finished(&j, "right", "host2");
    assert!(
        at(&l["started_at"]) < at(&r["at"]) && at(&r["started_at"]) < at(&l["at"]),
        "the branches overlap"
    );
}

#[test]
fn become_runs_through_sudo_with_the_password_on_stdin() {
    let ssh = SshBed::start(3);
    let master = ssh.master().replace("user: root", "user: setupdr");
    let bed = Bed::new();
    bed.file("master.yml", &master).file("pb.yml", "steps:\n  - { id: who, hosts: host1, become: true, shell: 'id -un; ps -o args= -p $$ $PPID' }\n");
    let mut cmd = bed.command(&["run", "pb.yml", "-v"]);
    cmd.env("SETUP_BECOME_PASSWORD", "setupdr-sudo");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("| root"),
        "the command ran as root: {stdout}"
    );
    assert!(
        !stdout.contains("setupdr-sudo"),
        "the password is on no command line and in no output"
    );
    let mut wrong = bed.command(&["run", "pb.yml"]);
    wrong.env("SETUP_BECOME_PASSWORD", "not-the-password");
    let out = wrong.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not-the-password"));
}

/// Where sudo reads no password (NOPASSWD), or remembers a login from another session
/// (timestamp_type=global), the password fed for `become` must not reach the command: a file written
/// as root holds exactly its bytes, and the commands run as root.
#[test]
fn become_feeds_the_password_only_where_sudo_reads_it() {
    let ssh = SshBed::start(1);
    for user in ["setupdrnp", "setupdrgl"] {
        let master = ssh.master().replace("user: root", &format!("user: {user}"));
        let bed = Bed::new();
        let dest = bed.path("out").join("f.txt").display().to_string();
        let playbook = format!(
            "steps:
  - {{ id: prime, hosts: host1, shell: \"printf '%s\\\\n' setupdr-sudo | sudo -S -p '' true\" }}
  - {{ id: put, hosts: host1, needs: [prime], become: true, copy: {{ content: \"exact bytes\\n\", dest: '{dest}' }} }}
  - {{ id: who, hosts: host1, needs: [put], become: true, shell: 'id -un; stat -c %U {dest}' }}
"
        );
        bed.file("master.yml", &master).file("pb.yml", &playbook);
        let mut cmd = bed.command(&["run", "pb.yml", "-v"]);
        cmd.env("SETUP_BECOME_PASSWORD", "setupdr-sudo");
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{user}: {stdout}{stderr}");
        assert_eq!(
            std::fs::read_to_string(&dest).unwrap(),
            "exact bytes\n",
            "{user}: the file holds its bytes and nothing fed to sudo"
        );
        assert!(
            stdout.matches("| root").count() >= 2,
            "{user}: the command ran as root and the file is root's: {stdout}"
        );
    }
}

#[test]
fn an_sshd_killed_mid_run_fails_its_task_and_others_continue() {
    let ssh = SshBed::start(3);
    let pid = ssh.hosts[1].pid();
    let bed = bed_with(
        &ssh,
        &format!(
            "steps:
  - {{ id: warm, hosts: bed, shell: 'true' }}
  - {{ id: long, hosts: bed, needs: [warm], shell: 'sleep 2; echo survived' }}
  - {{ id: kill_host2, needs: [warm], shell: 'sleep 0.5; pkill -KILL -P {pid}; kill -KILL {pid}' }}
"
        ),
    );
    let out = bed.run(&["run", "pb.yml", "--keep-going"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let j = journal(bed.dir.path());
    assert_eq!(finished(&j, "long", "host1")["status"], "changed");
    assert_eq!(finished(&j, "long", "host3")["status"], "changed");
    let dead = finished(&j, "long", "host2");
    assert_eq!(dead["status"], "failed");
    let msg = dead["message"].as_str().unwrap();
    assert!(
        msg.contains("host `host2`")
            && (msg.contains("lost the connection") || msg.contains("killed by a signal")),
        "{msg}"
    );
}

#[test]
fn a_hung_host_fails_by_the_step_timeout() {
    let ssh = SshBed::start(3);
    let pid = ssh.hosts[2].pid();
    let bed = bed_with(
        &ssh,
        &format!(
            "steps:
  - {{ id: warm, hosts: bed, shell: 'true' }}
  - {{ id: freeze_host3, needs: [warm], shell: 'pkill -STOP -P {pid}; kill -STOP {pid}' }}
  - {{ id: after, hosts: bed, needs: [freeze_host3], timeout: 2, shell: 'echo alive' }}
"
        ),
    );
    let started = std::time::Instant::now();
    let out = bed.run(&["run", "pb.yml", "--keep-going"]);
    ssh.signal(2, "CONT");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        started.elapsed().as_secs() < 20,
        "the run did not wait forever"
    );
    let j = journal(bed.dir.path());
    assert_eq!(finished(&j, "after", "host1")["status"], "changed");
    let hung = finished(&j, "after", "host3");
    assert_eq!(hung["status"], "failed");
    assert_eq!(hung["message"], "timed out after 2s");
}

fn first_error(ssh: &SshBed, master: &str, extra: &[&str]) -> (i32, String) {
    let bed = Bed::new();
    bed.file("master.yml", master).file(
        "pb.yml",
        "steps:\n  - { id: probe, hosts: host1, shell: 'true' }\n",
    );
    let mut args = vec!["run", "pb.yml"];
    args.extend_from_slice(extra);
    let out = bed.run(&args);
    // A host that cannot be reached fails when its lock is taken, before any task: on stderr,
    // in a report that wraps its lines.
    let unwrapped = out.stderr.replace("\n  | ", " ");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("FAILED"))
        .map(str::to_string)
        .or_else(|| {
            let at = unwrapped.find("- host `host1`")?;
            Some(unwrapped[at + 2..].lines().next()?.to_string())
        })
        .unwrap_or_default();
    // The text after `FAILED probe on host1 (0.2s): `.
    let line = line
        .split_once("): ")
        .map(|x| x.1.trim().to_string())
        .unwrap_or(line);
    (out.code, ssh.filter(&bed.filter(&line)))
}

#[test]
fn a_host_key_mismatch_is_refused() {
    let ssh = SshBed::start(3);
    // host1's entry carries host2's key.
    let known = std::fs::read_to_string(ssh.path("known_hosts")).unwrap();
    let lines: Vec<&str> = known.lines().collect();
    let key2 = lines[1].split_once(' ').unwrap().1;
    let swapped = format!("{} {key2}\n", lines[0].split_once(' ').unwrap().0);
    std::fs::write(ssh.path("known_hosts-swapped"), swapped).unwrap();
    let master = ssh
        .master()
        .replace("/known_hosts,", "/known_hosts-swapped,");
    let (code, err) = first_error(&ssh, &master, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("does not match") || err.contains("is not the one recorded"),
        "{err}"
    );
    // Accepting new keys never accepts a changed one.
    let (code, _) = first_error(&ssh, &master, &["--accept-new-host-keys"]);
    assert_eq!(code, 1);
}

#[test]
fn a_new_host_key_is_accepted_only_when_asked() {
    let ssh = SshBed::start(3);
    std::fs::write(ssh.path("known_hosts-empty"), "").unwrap();
    let master = ssh.master().replace("/known_hosts,", "/known_hosts-empty,");
    let (code, err) = first_error(&ssh, &master, &[]);
    assert_eq!(code, 1, "{err}");
    let (code, err) = first_error(&ssh, &master, &["--accept-new-host-keys"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !std::fs::read_to_string(ssh.path("known_hosts-empty"))
            .unwrap()
            .is_empty(),
        "the key was recorded"
    );
}

#[test]
fn an_unreachable_host_says_what_to_fix() {
    let ssh = SshBed::start(3);
    let port = &ssh.hosts[0].port;
    let master = ssh.master().replace(&format!("port: {port},"), "port: 1,");
    let (code, err) = first_error(&ssh, &master, &[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(err);
}

#[test]
fn a_bad_key_says_what_to_fix() {
    let ssh = SshBed::start(3);
    let key = ssh.path("other_key");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let master = ssh.master().replace(
        &format!("{}/id_ed25519", ssh.dir().display()),
        &key.display().to_string(),
    );
    let (code, err) = first_error(&ssh, &master, &[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(err);
}

#[test]
fn an_ansible_inventory_names_its_known_hosts_as_ansible_does_and_the_error_names_the_key() {
    let ssh = SshBed::start(1);
    let h = &ssh.hosts[0];
    let inventory = |args: &str| {
        format!(
            "all:\n  hosts:\n    host1:\n      ansible_host: {}\n      ansible_port: {}\n      ansible_user: root\n      ansible_ssh_private_key_file: {}\n      ansible_ssh_common_args: '{args}'\n",
            h.address,
            h.port,
            ssh.path("id_ed25519").display()
        )
    };
    let given = format!(
        "-o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
        ssh.path("known_hosts").display()
    );
    let (code, err) = first_error(&ssh, &inventory(&given), &[]);
    assert_eq!(code, 0, "{err}");
    // Without it, ssh's own known_hosts does not hold the bed's key: the error says where to name one.
    std::fs::write(ssh.path("known_hosts-empty"), "").unwrap();
    let empty = format!(
        "-o UserKnownHostsFile={}",
        ssh.path("known_hosts-empty").display()
    );
    let (code, err) = first_error(&ssh, &inventory(&empty), &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("`known_hosts:` in master.yml"), "{err}");
    assert!(err.contains("UserKnownHostsFile"), "{err}");
}

/// A link planted where a file is written (a restored folder's `RESTORED-BY-SETUP`, say) is
/// replaced by the file, never followed: over SSH and on the local machine alike.
#[test]
fn a_file_written_where_a_link_was_planted_replaces_the_link() {
    let ssh = SshBed::start(1);
    for master in [
        ssh.master(),
        "defaults: { connection: local }\nhosts:\n  host1: {}\n".to_string(),
    ] {
        let bed = Bed::new();
        let dir = bed.path("restored");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("director.conf"), "kept\n").unwrap();
        std::os::unix::fs::symlink("sub", dir.join("marker")).unwrap();
        std::os::unix::fs::symlink("director.conf", dir.join("note")).unwrap();
        let playbook = format!(
            "steps:\n  - {{ id: a, hosts: host1, copy: {{ content: \"marker\\n\", dest: '{d}/marker' }} }}\n  - {{ id: b, hosts: host1, copy: {{ content: \"note\\n\", dest: '{d}/note' }} }}\n",
            d = dir.display()
        );
        bed.file("master.yml", &master).file("pb.yml", &playbook);
        let out = bed.run(&["run", "pb.yml"]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        for (name, content) in [("marker", "marker\n"), ("note", "note\n")] {
            let p = dir.join(name);
            assert!(!p.is_symlink(), "{name} is still a link: {}", out.stdout);
            assert_eq!(std::fs::read_to_string(&p).unwrap(), content);
        }
        assert_eq!(std::fs::read_dir(dir.join("sub")).unwrap().count(), 0);
        assert_eq!(
            std::fs::read_to_string(dir.join("director.conf")).unwrap(),
            "kept\n"
        );
    }
}

/// Connections wait their turn under `--connect-limit`; that wait is not the host's time to
/// answer. Eight hosts opened one at a time take longer in all than `--connect-timeout`, and
/// every host still answers and runs its step.
#[test]
fn a_host_waiting_its_turn_to_connect_is_not_called_unreachable() {
    let ssh = SshBed::start(8);
    let bed = bed_with(
        &ssh,
        "steps:\n  - { id: hello, hosts: bed, shell: 'echo hello from {{ inventory_hostname }}' }\n",
    );
    let started = std::time::Instant::now();
    let out = bed.run(&[
        "run",
        "pb.yml",
        "--connect-limit",
        "1",
        "--connect-timeout",
        "1",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("no answer within"), "{}", out.stderr);
    let j = journal(bed.dir.path());
    for h in &ssh.hosts {
        assert_eq!(finished(&j, "hello", &h.name)["status"], "changed");
    }
    eprintln!("8 hosts one connection at a time: {:?}", started.elapsed());
}

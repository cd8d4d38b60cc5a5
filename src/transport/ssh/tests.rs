use super::*;
use crate::secret::Secret;
use crate::transport::EnvValue;

#[test]
fn secrets_stay_off_the_command_line() {
    let mut req = ExecRequest::shell("echo $PW");
    req.env
        .push(("PW".into(), EnvValue::Secret(Secret::new("hunter22"))));
    req.become_ = Some(Some(Secret::new("sudopw")));
    let env = env_script(&req);
    let line = remote_line(&req, env.len(), "setup-run-r1");
    assert!(
        !line.contains("hunter22") && !line.contains("sudopw"),
        "{line}"
    );
    assert!(env.contains("hunter22"));
    assert!(line.starts_with("sudo -k -S -p '' -- sh -c"), "{line}");
    // The shell is named for the run, and stays while the command runs (it never ends in it).
    assert!(line.contains("; exit' setup-run-r1 "), "{line}");
}

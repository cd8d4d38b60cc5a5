//! `/api/v1/schedule`: when the DC backs up. `GET` reads backup.yml's `schedule` (UTC times, the
//! defaults where it names none), the next runs and whether the schedule is installed on this
//! machine; `PUT` writes backup.yml's `schedule` and installs it as `setup standalone schedule
//! install` does. A schedule that backup.yml would refuse, or that cannot be installed, leaves
//! backup.yml as it was. backup.yml is changed under the edit lock and written whole (`edit`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Server;
use super::body::{Asked, Body, Sent, present};
use super::problem::Problem;
use crate::docs::backup::DEFAULT_SCHEDULE;

/// A scheduled run and when it comes next.
#[derive(Serialize, ToSchema)]
pub struct NextRun {
    /// What runs: `config backup`, `analytics backup`, `drill`.
    pub job: String,
    /// When, UTC.
    #[schema(format = DateTime)]
    pub at: String,
}

/// The next time a daily `HH:MM` (or, with a weekday, a weekly one) comes, UTC.
fn next_run(weekday: Option<u32>, hour: u32, minute: u32) -> String {
    use chrono::{Datelike, Duration, Timelike};
    let now = chrono::Utc::now();
    let mut t = now
        .with_hour(hour)
        .and_then(|t| t.with_minute(minute))
        .and_then(|t| t.with_second(0))
        .unwrap_or(now);
    while t <= now || weekday.is_some_and(|d| t.weekday().num_days_from_sunday() != d) {
        t += Duration::days(1);
    }
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The folder's scheduled jobs and when each runs next (UTC).
pub(super) fn next_runs(o: &crate::options::Options) -> Vec<NextRun> {
    crate::commands::schedule::jobs(o)
        .unwrap_or_default()
        .iter()
        .map(|j| NextRun {
            job: j.what(),
            at: next_run(j.weekday, j.hour, j.minute),
        })
        .collect()
}

/// The time of day of each component's backup, `HH:MM` UTC; a component backup.yml does not back
/// up is left out.
#[derive(Default, Serialize, ToSchema)]
pub struct Times {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "02:00")]
    pub config: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "00:30")]
    pub analytics: Option<String>,
}

/// `GET /schedule`, and the answer to `PUT /schedule`: the backup schedule (UTC).
#[derive(Serialize, ToSchema)]
pub struct ScheduleState {
    /// backup.yml's times, the defaults where it names none.
    pub schedule: Times,
    /// Always UTC.
    pub timezone: &'static str,
    pub next_runs: Vec<NextRun>,
    /// Whether the schedule is installed on this machine.
    pub installed: bool,
    /// Where it runs here: systemd timers or the crontab.
    pub runs_in: &'static str,
    /// What installing it said (the answer to a `PUT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub installed_by: Option<String>,
}

/// `PUT /schedule`: the time of each component's backup, `HH:MM` UTC; at least one. A component
/// left out is left out of backup.yml's schedule (its default time then), and any other key is
/// refused.
#[derive(Deserialize, ToSchema)]
pub struct ScheduleRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "02:00")]
    config: Option<Sent<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "00:30")]
    analytics: Option<Sent<String>>,
    /// Keys of no component: refused, by name.
    #[serde(flatten)]
    #[schema(ignore)]
    others: BTreeMap<String, Sent<String>>,
}

impl Asked for ScheduleRequest {
    fn unsent() -> Result<Self, Problem> {
        Err(Self::misshapen())
    }
    fn misshapen() -> Problem {
        Problem::invalid(
            "not a schedule",
            "send e.g. {\"config\": \"02:00\", \"analytics\": \"00:30\"} (UTC)",
        )
    }
}

impl ScheduleRequest {
    /// Each key sent and its time, by key; a time that is not text is refused.
    fn times(self) -> Result<Vec<(String, String)>, Problem> {
        let mut sent = self.others;
        for (component, at) in [("config", self.config), ("analytics", self.analytics)] {
            if let Some(at) = at {
                sent.insert(component.to_string(), at);
            }
        }
        sent.into_iter()
            .map(|(component, at)| match at {
                Sent::Is(at) => Ok((component, at)),
                Sent::Other(_) => Err(Problem::invalid(
                    "not a schedule",
                    format!("`{component}` is a time of day as \"HH:MM\" (UTC)"),
                )),
            })
            .collect()
    }
}

/// Where the schedule runs and whether it is installed, as last asked of the machine.
#[derive(Default)]
pub struct Placed(std::sync::Mutex<Option<Result<(&'static str, bool), String>>>);

impl Placed {
    /// How often the machine is asked again, for a change made outside the server.
    const EVERY: std::time::Duration = std::time::Duration::from_secs(30);

    /// Asks the machine now (it may start a process: call it off the request path).
    pub fn refresh(&self, o: &crate::options::Options) {
        let found = crate::commands::schedule::placement(o)
            .map_err(|f| super::failed::said(o, "the schedule", f).join("\n"));
        *self.0.lock().expect("placed") = Some(found);
    }

    fn get(&self) -> Result<(&'static str, bool), String> {
        self.0
            .lock()
            .expect("placed")
            .clone()
            .unwrap_or_else(|| Err("the schedule's place is not known yet".into()))
    }

    /// Asks again every half minute while the server runs.
    pub fn keep_fresh(s: Arc<Server>) {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Self::EVERY).await;
                let s = s.clone();
                let _ = tokio::task::spawn_blocking(move || s.placed.refresh(&s.options)).await;
            }
        });
    }
}

/// The schedule as it stands: backup.yml's times, the next runs, where and whether it is installed.
pub(super) async fn current(s: &Server) -> Result<ScheduleState, String> {
    let spec = crate::world::load_backup_only(&s.options).map_err(|f| {
        let lines = super::failed::said(&s.options, "backup.yml cannot be read", f);
        format!("backup.yml cannot be read:\n{}", lines.join("\n"))
    })?;
    let at = |component: &str| {
        let default = DEFAULT_SCHEDULE
            .iter()
            .find(|(c, _)| *c == component)
            .map_or("", |(_, t)| t);
        let at = spec
            .schedule
            .iter()
            .find(|(c, _)| c == component)
            .map_or(default, |(_, t)| t.as_str());
        spec.components
            .iter()
            .any(|c| c == component)
            .then(|| at.to_string())
    };
    let times = Times {
        config: at("config"),
        analytics: at("analytics"),
    };
    let next = next_runs(&s.options);
    let (place, installed) = s.placed.get()?;
    Ok(ScheduleState {
        schedule: times,
        timezone: "UTC",
        next_runs: next,
        installed,
        runs_in: place,
        installed_by: None,
    })
}

fn unreadable(why: String) -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the schedule cannot be read",
        why,
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/schedule",
    operation_id = "get_schedule",
    tag = "settings",
    summary = "The backup schedule",
    description = "The backup schedule (UTC): backup.yml's times, the next runs, whether it is installed on this machine (systemd timers or the crontab).",
    responses(
        (status = 200, description = "The schedule", body = ScheduleState),
        (status = 500, description = "backup.yml cannot be read", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn show(State(s): State<Arc<Server>>) -> Result<Json<ScheduleState>, Problem> {
    current(&s).await.map(Json).map_err(unreadable)
}

/// `HH:MM`, 00:00 to 23:59.
fn is_time(t: &str) -> bool {
    chrono::NaiveTime::parse_from_str(t, "%H:%M").is_ok() && t.len() == 5
}

/// backup.yml with its top-level `schedule` replaced by `line` (its other lines, comments
/// included, as they were).
pub fn with_schedule(text: &str, line: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for l in text.lines() {
        if l.starts_with("schedule:") {
            skipping = true;
            continue;
        }
        if skipping && (l.starts_with(' ') || l.starts_with('\t')) {
            continue;
        }
        skipping = false;
        out.push(l);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.push(line);
    out.join("\n") + "\n"
}

/// Writes the times (component → `HH:MM` UTC) into backup.yml and installs the schedule; on any
/// refusal backup.yml is put back. Ok: what `schedule install` said.
pub(super) async fn save(s: &Arc<Server>, times: &[(String, String)]) -> Result<String, Problem> {
    let said = write_and_install(s, times).await;
    // Installed or put back: the machine is asked again where the schedule stands.
    let again = s.clone();
    let _ = tokio::task::spawn_blocking(move || again.placed.refresh(&again.options)).await;
    said
}

async fn write_and_install(s: &Server, times: &[(String, String)]) -> Result<String, Problem> {
    let refused = |why: String| Problem::invalid("the schedule was not changed", why);
    let failed = |why: String| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the schedule was not changed",
            why,
        )
    };
    if times.is_empty() {
        return Err(refused(
            "give at least one time, e.g. {\"config\": \"02:00\"}".into(),
        ));
    }
    for (component, at) in times {
        if !DEFAULT_SCHEDULE.iter().any(|(c, _)| c == component) {
            return Err(refused(format!(
                "`{component}` is not scheduled here: the components are config and analytics"
            )));
        }
        if !is_time(at) {
            return Err(refused(format!(
                "`{component}`: `{at}` is not a time of day as HH:MM (UTC)"
            )));
        }
    }
    let path = s.options.backup_file.path.clone();
    let _held = super::edit::hold(&s.dir).await.map_err(failed)?;
    let before =
        std::fs::read_to_string(&path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let line = format!(
        "schedule: {{ {} }}",
        times
            .iter()
            .map(|(c, t)| format!("{c}: \"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let write = |text: &str| {
        super::edit::replace(&path, text, false)
            .map_err(|e| failed(format!("{}: {e}", path.display())))
    };
    write(&with_schedule(&before, &line))?;
    match s.own(&["standalone", "schedule", "install"]).await {
        Ok((true, said, _)) => Ok(said),
        Ok((false, said, why)) => {
            write(&before)?;
            let masker = super::failed::secrets(&s.options);
            let why = super::failed::child_said(&why, &masker);
            Err(refused(
                format!("{}{why}", masker.mask(&said)).trim().to_string(),
            ))
        }
        Err(e) => {
            write(&before)?;
            Err(failed(e))
        }
    }
}

#[utoipa::path(
    put,
    path = "/api/v1/schedule",
    operation_id = "put_schedule",
    tag = "settings",
    summary = "Write and install the schedule",
    description = "Write backup.yml's schedule (body: config, analytics as \"HH:MM\" UTC) and install it as `setup standalone schedule install` does; a refused schedule leaves backup.yml as it was.",
    request_body = ScheduleRequest,
    responses(
        (status = 200, description = "Written and installed: the schedule as it now stands, and what installing it said", body = ScheduleState),
        (status = 422, description = "Not a schedule, or one that cannot be installed: backup.yml is as it was", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "backup.yml cannot be read or written", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn replace(
    State(s): State<Arc<Server>>,
    Body(body): Body<ScheduleRequest>,
) -> Result<Json<ScheduleState>, Problem> {
    let said = save(&s, &body.times()?).await?;
    let now = current(&s).await.map_err(unreadable)?;
    Ok(Json(ScheduleState {
        installed_by: Some(said),
        ..now
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_line_replaces_a_flow_or_block_mapping_and_keeps_the_rest() {
        let line = "schedule: { config: \"03:00\" }";
        assert_eq!(
            with_schedule(
                "# a comment\nschedule: { config: \"02:00\" }\nretention: {daily: 7}\n",
                line
            ),
            "# a comment\nretention: {daily: 7}\nschedule: { config: \"03:00\" }\n"
        );
        assert_eq!(
            with_schedule(
                "components: [config]\nschedule:\n  config: \"02:00\"\n  analytics: \"00:30\"\n# after\nrecipients: []\n\n",
                line
            ),
            "components: [config]\n# after\nrecipients: []\nschedule: { config: \"03:00\" }\n"
        );
        assert_eq!(
            with_schedule("components: [config]", line),
            "components: [config]\nschedule: { config: \"03:00\" }\n"
        );
    }

    #[test]
    fn times_are_hours_and_minutes_of_a_day() {
        assert!(is_time("00:00") && is_time("23:59"));
        assert!(!is_time("24:00") && !is_time("2:00") && !is_time("02:00:00"));
    }
}

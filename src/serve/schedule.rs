//! `/api/v1/schedule`: when the DC backs up. `GET` reads backup.yml's `schedule` (UTC times, the
//! defaults where it names none), the next runs and whether the schedule is installed on this
//! machine; `PUT` writes backup.yml's `schedule` and installs it as `setup standalone schedule
//! install` does. A schedule that backup.yml would refuse, or that cannot be installed, leaves
//! backup.yml as it was. backup.yml is changed under the edit lock and written whole (`edit`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value as J, json};

use super::{Server, problem};
use crate::docs::backup::DEFAULT_SCHEDULE;

pub fn router(s: Arc<Server>) -> Router {
    Router::new()
        .route("/schedule", axum::routing::get(show).put(replace))
        .with_state(s)
}

/// The schedule as it stands: backup.yml's times, the next runs, where and whether it is installed.
pub(super) async fn current(s: &Server) -> Result<J, String> {
    let spec = crate::world::load_backup_only(&s.options).map_err(|f| {
        let lines = super::failed::said(&s.options, "backup.yml cannot be read", f);
        format!("backup.yml cannot be read:\n{}", lines.join("\n"))
    })?;
    let mut times = serde_json::Map::new();
    for (component, default) in DEFAULT_SCHEDULE {
        let at = spec
            .schedule
            .iter()
            .find(|(c, _)| c == component)
            .map_or(default, |(_, t)| t.as_str());
        if spec.components.iter().any(|c| c == component) {
            times.insert(component.into(), at.into());
        }
    }
    let next: Vec<J> = super::api::next_runs(&s.options);
    let o = s.options.clone();
    let (place, installed) =
        tokio::task::spawn_blocking(move || crate::commands::schedule::placement(&o))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|f| super::failed::said(&s.options, "the schedule", f).join("\n"))?;
    Ok(json!({
        "schedule": times,
        "timezone": "UTC",
        "next_runs": next,
        "installed": installed,
        "runs_in": place,
    }))
}

async fn show(State(s): State<Arc<Server>>) -> Response {
    match current(&s).await {
        Ok(j) => Json(j).into_response(),
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the schedule cannot be read",
            &e,
        ),
    }
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
pub(super) async fn save(s: &Server, times: &[(String, String)]) -> Result<String, (u16, String)> {
    if times.is_empty() {
        return Err((
            422,
            "give at least one time, e.g. {\"config\": \"02:00\"}".into(),
        ));
    }
    for (component, at) in times {
        if !DEFAULT_SCHEDULE.iter().any(|(c, _)| c == component) {
            return Err((
                422,
                format!(
                    "`{component}` is not scheduled here: the components are config and analytics"
                ),
            ));
        }
        if !is_time(at) {
            return Err((
                422,
                format!("`{component}`: `{at}` is not a time of day as HH:MM (UTC)"),
            ));
        }
    }
    let path = s.options.backup_file.path.clone();
    let _held = super::edit::hold(&s.dir).await.map_err(|e| (500, e))?;
    let before =
        std::fs::read_to_string(&path).map_err(|e| (500, format!("{}: {e}", path.display())))?;
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
            .map_err(|e| (500, format!("{}: {e}", path.display())))
    };
    write(&with_schedule(&before, &line))?;
    match s.own(&["standalone", "schedule", "install"]).await {
        Ok((true, said, _)) => Ok(said),
        Ok((false, said, why)) => {
            write(&before)?;
            let masker = super::failed::secrets(&s.options);
            let why = super::failed::child_said(&why, &masker);
            Err((
                422,
                format!("{}{why}", masker.mask(&said)).trim().to_string(),
            ))
        }
        Err(e) => {
            write(&before)?;
            Err((500, e))
        }
    }
}

async fn replace(State(s): State<Arc<Server>>, body: Option<Json<J>>) -> Response {
    let Some(Json(J::Object(body))) = body else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a schedule",
            "send e.g. {\"config\": \"02:00\", \"analytics\": \"00:30\"} (UTC)",
        );
    };
    let mut times = Vec::new();
    for (component, at) in &body {
        let Some(at) = at.as_str() else {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not a schedule",
                &format!("`{component}` is a time of day as \"HH:MM\" (UTC)"),
            );
        };
        times.push((component.clone(), at.to_string()));
    }
    match save(&s, &times).await {
        Ok(said) => match current(&s).await {
            Ok(mut j) => {
                j["installed_by"] = said.into();
                Json(j).into_response()
            }
            Err(e) => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the schedule cannot be read",
                &e,
            ),
        },
        Err((code, why)) => problem(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "the schedule was not changed",
            &why,
        ),
    }
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

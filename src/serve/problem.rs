//! The one error answer of the API: an RFC 9457 problem document (`application/problem+json`),
//! with `type`, `title`, `status`, `detail`, and `errors` when a failure had several problems (each
//! a line naming its file and line). Every field is text the server wrote or masked: a problem is
//! serialized field by field, never as a Debug dump of anything.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer. `status` is the HTTP status it is sent with.
#[derive(Clone, Serialize, utoipa::ToSchema)]
#[schema(description = "An error, as RFC 9457 says: every error of the API is one.")]
pub struct Problem {
    /// Always `about:blank`: the status and the title say what went wrong.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    kind: &'static str,
    /// What went wrong, in a few words.
    title: String,
    /// The HTTP status, again.
    #[serde(serialize_with = "code")]
    #[schema(value_type = u16)]
    status: StatusCode,
    /// Why, and what to do about it.
    detail: String,
    /// Each problem of a document: its file, line and message (masked, without the document's
    /// text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    /// Headers sent with it (`Retry-After`, `WWW-Authenticate`).
    #[serde(skip)]
    #[schema(ignore)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn code<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    pub fn new(status: StatusCode, title: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: title.into(),
            status,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// 422: what the request asked for is not valid.
    pub fn invalid(title: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, title, detail)
    }

    /// A failure of several problems, each a line (see `failed::problems`): `detail` has them one
    /// a line, and `errors` as a list.
    pub fn lines(status: StatusCode, title: impl Into<String>, lines: &[String]) -> Problem {
        Problem {
            errors: lines.to_vec(),
            ..Problem::new(status, title, lines.join("\n"))
        }
    }

    /// The same problem sent with one more header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Problem {
        self.headers.push((name, value));
        self
    }

    /// 429: the client must wait `wait` seconds (`Retry-After`).
    pub fn too_many(wait: u64) -> Problem {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests",
            format!("wait {wait} s before the next one"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(wait))
    }

    /// 404 for a job id that names no job.
    pub fn no_job(id: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "no such job",
            format!("there is no job {id}: see /api/v1/jobs"),
        )
    }

    /// What axum itself refuses (an extractor, or the router: a method the path does not take),
    /// as a problem: the status's own words for a title, and for a detail what to do, or what was
    /// said masked with `mask` (an extractor's words never hold a value of the body, and are
    /// masked all the same).
    pub fn refused(status: StatusCode, said: &str, mask: impl FnOnce(&str) -> String) -> Problem {
        let said = said.trim();
        let detail = match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "send the body as JSON, with the header `Content-Type: application/json`"
                    .to_string()
            }
            StatusCode::PAYLOAD_TOO_LARGE => "a request body is at most 64 KiB".to_string(),
            StatusCode::METHOD_NOT_ALLOWED => {
                "this path does not take that method: see /api/v1/openapi.json".to_string()
            }
            _ if said.is_empty() => status.canonical_reason().unwrap_or("refused").to_string(),
            _ => mask(said),
        };
        Problem::new(
            status,
            status.canonical_reason().unwrap_or("refused"),
            detail,
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self).expect("a problem is plain text and numbers");
        let mut r = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        for (name, value) in self.headers {
            r.headers_mut().insert(name, value);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The response's status, content type, headers and body as JSON.
    async fn rendered(
        p: Problem,
    ) -> (StatusCode, String, axum::http::HeaderMap, serde_json::Value) {
        let r = p.into_response();
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap();
        let ctype = parts.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        (
            parts.status,
            ctype,
            parts.headers,
            serde_json::from_str(&text).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_problem_is_an_rfc_9457_document_of_its_own_fields() {
        // Quotes and a line break stay text: a Debug dump would escape them into the detail.
        let detail = "job 20261207T182147Z-b4da holds \"dc-1\"\nsince 18:21";
        let (status, ctype, _, body) = rendered(Problem::new(
            StatusCode::CONFLICT,
            "the hosts are busy: another run holds their locks",
            detail,
        ))
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(ctype, "application/problem+json");
        assert_eq!(
            body,
            serde_json::json!({
                "type": "about:blank",
                "title": "the hosts are busy: another run holds their locks",
                "status": 409,
                "detail": detail,
            })
        );
    }

    #[tokio::test]
    async fn a_failure_of_several_problems_lists_them_and_names_no_rust_value() {
        let masker = crate::secret::Masker::default();
        masker.add(&crate::secret::Secret::new("Canary-Secret-p1"));
        let failure = crate::failure::Failure::Other(
            "answers.yml line 3: Canary-Secret-p1 is not a port".into(),
        );
        let lines = super::super::failed::problems(&failure, &masker);
        let (status, ctype, _, body) = rendered(Problem::lines(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answers cannot be read",
            &lines,
        ))
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(ctype, "application/problem+json");
        assert_eq!(body["status"], 500);
        assert_eq!(body["errors"], serde_json::json!(lines));
        assert_eq!(body["detail"], lines.join("\n"));
        let text = body.to_string();
        assert!(text.contains("answers.yml line 3"), "{text}");
        assert!(!text.contains("Canary-Secret-p1"), "{text}");
        for debug in ["Other(", "Failure", "Some(", "\\\""] {
            assert!(!text.contains(debug), "{debug} in {text}");
        }
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["detail", "errors", "status", "title", "type"]);
    }

    #[tokio::test]
    async fn a_wait_is_said_in_retry_after() {
        let (status, _, headers, body) = rendered(Problem::too_many(3)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "3");
        assert_eq!(body["detail"], "wait 3 s before the next one");
    }
}

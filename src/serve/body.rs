//! Request bodies: JSON read into the request type an endpoint takes (`Body<T>`). What is refused
//! is a `Problem`: a body that is not JSON (400), sent without `Content-Type: application/json`
//! (415) or too big (413) as for every request; a body of JSON that is not the request (not an
//! object, say) in the request's own words; no body at all as the request says (`Asked`). A field
//! of the wrong type is taken as `Sent::Other`, for the request's check to say which field, in its
//! own words; what was sent there is never kept (a value in the wrong place may be a secret).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Server;
use super::problem::Problem;

/// A request an endpoint takes as its JSON body.
pub trait Asked: DeserializeOwned {
    /// The request when no body was sent (no `Content-Type` either).
    fn unsent() -> Result<Self, Problem>;
    /// The problem with a body that is JSON but not this request (not an object, say).
    fn misshapen() -> Problem;
}

/// The body of a request, read as `T`.
pub struct Body<T>(pub T);

impl<T: Asked> FromRequest<Arc<Server>> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, s: &Arc<Server>) -> Result<Self, Problem> {
        match Option::<Json<T>>::from_request(req, s).await {
            Ok(Some(Json(asked))) => Ok(Body(asked)),
            Ok(None) => T::unsent().map(Body),
            Err(JsonRejection::JsonDataError(_)) => Err(T::misshapen()),
            Err(other) => {
                let masker = super::failed::secrets(&s.options);
                Err(Problem::refused(other.status(), &other.body_text(), |t| {
                    masker.mask(t)
                }))
            }
        }
    }
}

/// A field of a request as it was sent: a value of the type the field takes, or something else.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum Sent<T> {
    Is(T),
    /// Not of the field's type; what it was is not kept.
    Other(serde::de::IgnoredAny),
}

impl<T> Sent<T> {
    /// The value, when it has the field's type.
    pub fn given(&self) -> Option<&T> {
        match self {
            Sent::Is(v) => Some(v),
            Sent::Other(_) => None,
        }
    }
}

/// For a field whose `null` is refused rather than taken as left out: `#[serde(default,
/// deserialize_with = "present")]` makes a `null` `Some(Sent::Other)`, and only a field left out
/// `None`.
pub fn present<'de, D, T>(d: D) -> Result<Option<Sent<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Sent::deserialize(d).map(Some)
}

/// The schema of a field that is one of these words.
pub fn one_of(words: &[&str], description: &str) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(words.iter().copied()))
        .description(Some(description))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Asked {
        a: Option<Sent<bool>>,
        #[serde(default, deserialize_with = "present")]
        b: Option<Sent<String>>,
    }

    #[test]
    fn a_field_of_another_type_is_taken_without_what_it_was() {
        let read = |text: &str| serde_json::from_str::<Asked>(text).unwrap();
        let r = read(r#"{"a": true, "b": "x"}"#);
        assert!(matches!(r.a, Some(Sent::Is(true))));
        assert_eq!(r.b.unwrap().given().map(String::as_str), Some("x"));
        let r = read(r#"{"a": "Canary", "b": ["Canary"]}"#);
        assert!(matches!(r.a, Some(Sent::Other(_))));
        assert!(matches!(r.b, Some(Sent::Other(_))));
        // A null `a` is left out; a null `b` is sent, and not a string.
        let r = read(r#"{"a": null, "b": null}"#);
        assert!(r.a.is_none());
        assert!(matches!(r.b, Some(Sent::Other(_))));
        let r = read("{}");
        assert!(r.a.is_none() && r.b.is_none());
    }
}

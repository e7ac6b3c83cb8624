//! Adapters (http): the JSON payload of REST requests. It reads and checks a body as
//! poem-openapi's `Json` does (same media-type rule, same schema, same parse errors), but
//! keeps the body it reads as it arrived instead of copying it into a `Vec`, and accepts the
//! media types clients send nearly always without parsing them.

use poem::{Request, RequestBody};
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde_json::Value;

/// A JSON request body whose OpenAPI schema is `T`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonIn<T>(pub T);

/// Whether a `Content-Type` value is one of the spellings of plain JSON that need no parsing
/// to be accepted.
fn plainly_json(content_type: &str) -> bool {
    const PLAIN: [&str; 3] = [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=utf-8",
    ];
    PLAIN.iter().any(|p| content_type.eq_ignore_ascii_case(p))
}

impl<T: Type> Payload for JsonIn<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        plainly_json(content_type) || <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for JsonIn<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = body.take()?.into_bytes().await?;
        let value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&data).map_err(|err| ParseRequestPayloadError {
                reason: err.to_string(),
            })?
        };
        T::parse_from_json(Some(value)).map(Self).map_err(|err| {
            ParseRequestPayloadError {
                reason: err.into_message(),
            }
            .into()
        })
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonIn<T>, T: ParseFromJSON);

#[cfg(test)]
mod tests {
    use poem::http::StatusCode;
    use poem_openapi::Object;

    use super::*;

    #[derive(Debug, Object, PartialEq)]
    struct Probe {
        name: String,
    }

    async fn read<P: ParsePayload>(body: &'static str) -> poem::Result<P> {
        let (request, mut body) = Request::builder().body(body).split();
        P::from_request(&request, &mut body).await
    }

    #[tokio::test]
    async fn a_document_of_the_schema_is_read() {
        let read = read::<JsonIn<Probe>>(r#"{"name":"a"}"#)
            .await
            .expect("read");
        assert_eq!(read.0, Probe { name: "a".into() });
    }

    #[tokio::test]
    async fn bad_json_a_wrong_shape_and_no_body_are_400() {
        for body in [r#"{"name":"#, r#"{"name":[1]}"#, r#"{}"#, "", "null"] {
            let err = read::<JsonIn<Probe>>(body).await.expect_err(body);
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{body}");
        }
    }

    #[tokio::test]
    async fn every_body_reads_as_poem_openapis_json_reads_it() {
        for body in [
            r#"{"name":"a"}"#,
            r#"{"name":1}"#,
            r#"{"name":"a","other":true}"#,
            r#"{"name":"a","name":"b"}"#,
            r#"{"name":"#,
            r#"{"name":[1]}"#,
            r#"{}"#,
            "",
            "null",
            "[]",
        ] {
            let ours = read::<JsonIn<Probe>>(body).await;
            let theirs = read::<Json<Probe>>(body).await;
            match (ours, theirs) {
                (Ok(ours), Ok(theirs)) => assert_eq!(ours.0, theirs.0, "{body}"),
                (Err(ours), Err(theirs)) => {
                    assert_eq!(ours.status(), theirs.status(), "{body}");
                    assert_eq!(ours.to_string(), theirs.to_string(), "{body}");
                }
                (ours, theirs) => panic!("{body}: ours {ours:?}, poem-openapi's {theirs:?}"),
            }
        }
    }

    #[test]
    fn the_fast_path_accepts_nothing_that_poem_openapis_rule_refuses() {
        type Probed = JsonIn<Probe>;
        for accepted in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=latin1",
            "application/problem+json",
        ] {
            assert!(Probed::check_content_type(accepted), "{accepted}");
            assert!(Json::<Probe>::check_content_type(accepted), "{accepted}");
        }
        for refused in [
            "text/plain",
            "application/xml",
            "json",
            "",
            "application/jsonx",
        ] {
            assert!(!Probed::check_content_type(refused), "{refused}");
            assert!(!Json::<Probe>::check_content_type(refused), "{refused}");
        }
    }
}

//! Adapters (http): the JSON payload of REST answers, written by serde straight into the
//! body. poem-openapi's `Json` first builds a `serde_json::Value` tree of the answer (an
//! allocation per field) and then writes that; the document and the schema are the same.

use bytes::Bytes;
use poem::http::HeaderValue;
use poem::http::StatusCode;
use poem::http::header::CONTENT_TYPE;
use poem::{Body, IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

/// The media type of every JSON answer (poem-openapi's `Json` declares the same).
const JSON: &str = "application/json; charset=utf-8";

/// A JSON answer body whose OpenAPI schema is `T`'s.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonOut<T> {
    /// A value, serialized when the answer is written.
    Value(T),
    /// A document of `T`'s schema written before (by [`written`]), sent as it is.
    Written(Bytes),
}

/// `value` as the JSON document a [`JsonOut::Value`] of it would send; `None` only where
/// that would be the answer-could-not-be-written error instead.
pub fn written<T: Serialize>(value: &T) -> Option<Bytes> {
    serde_json::to_vec(value).ok().map(Bytes::from)
}

impl<T: Type> Payload for JsonOut<T> {
    const CONTENT_TYPE: &'static str = JSON;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// A 200 answer of a JSON document (the media type a constant, not parsed per answer).
fn json_response(document: impl Into<Body>) -> Response {
    const MEDIA_TYPE: HeaderValue = HeaderValue::from_static(JSON);
    Response::builder()
        .header(CONTENT_TYPE, MEDIA_TYPE)
        .body(document)
}

impl<T: Serialize + Send> IntoResponse for JsonOut<T> {
    fn into_response(self) -> Response {
        let value = match self {
            Self::Value(value) => value,
            Self::Written(document) => return json_response(document),
        };
        match serde_json::to_vec(&value) {
            Ok(body) => json_response(body),
            // Only a map with non-string keys or a failing `Serialize` impl can get here;
            // the answer types have neither.
            Err(err) => {
                tracing::error!(error = %err, "an answer could not be written as JSON");
                Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .header(CONTENT_TYPE, JSON)
                    .body(r#"{"error":"the answer could not be written","code":"INTERNAL"}"#)
            }
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for JsonOut<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;
    use serde_json::Value;

    use super::*;
    use crate::adapters::http::auth_dto::{CheckAccessOk, LoginOk, LogoutOk, UserBody, ValidateOk};
    use crate::adapters::http::callback_api::DeliveredOk;

    fn user() -> UserBody {
        UserBody {
            user_id: 7,
            email: "a@example.com".into(),
            display_name: "A \"quoted\" name".into(),
            roles: vec!["admin".into(), "dev".into()],
        }
    }

    /// The body written, read back, and the document poem-openapi's `Json` would write.
    async fn both<T: ToJSON + Serialize + Send>(answer: T) -> (Value, Value) {
        let expected = answer.to_json().unwrap_or(Value::Null);
        let response = JsonOut::Value(answer).into_response();
        assert_eq!(
            response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some(JSON)
        );
        let bytes = response.into_body().into_bytes().await.unwrap();
        (serde_json::from_slice(&bytes).unwrap(), expected)
    }

    #[tokio::test]
    async fn every_answer_is_the_document_poem_openapi_would_write() {
        let cases = [
            both(ValidateOk {
                valid: true,
                user: Some(user()),
                expires_at: Some("2099-01-01T00:00:00Z".into()),
                message: "ok".into(),
            })
            .await,
            both(ValidateOk {
                valid: false,
                user: None,
                expires_at: None,
                message: "no".into(),
            })
            .await,
            both(LoginOk {
                status: "authenticated".into(),
                session_token: "t".into(),
                user: user(),
                expires_at: None,
                message: "m".into(),
            })
            .await,
            both(CheckAccessOk {
                allowed: false,
                user: None,
                playbook_path: "a/b".into(),
                permission_type: "execute".into(),
                message: "m".into(),
            })
            .await,
            both(LogoutOk {
                status: "logged_out".into(),
                message: "m".into(),
            })
            .await,
            both(DeliveredOk {
                delivered: true,
                message: "m".into(),
            })
            .await,
        ];
        for (written, expected) in cases {
            assert_eq!(written, expected);
        }
    }

    #[tokio::test]
    async fn a_document_written_before_is_sent_as_its_value_would_be() {
        let answer = ValidateOk {
            valid: true,
            user: Some(user()),
            expires_at: None,
            message: "ok".into(),
        };
        let document = written(&answer).expect("written");
        let mut sent = Vec::new();
        for out in [JsonOut::Value(answer), JsonOut::Written(document)] {
            let response = out.into_response();
            let content_type = response.headers().get(CONTENT_TYPE).cloned();
            let status = response.status();
            let body = response.into_body().into_bytes().await.unwrap();
            sent.push((status, content_type, body));
        }
        assert_eq!(sent[0], sent[1]);
        assert_eq!(sent[0].0, StatusCode::OK);
    }
}

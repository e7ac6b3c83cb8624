//! Adapters (http): `JsonString`, the string field of a request body. It takes a JSON string
//! and nothing else, where poem-openapi's `String` would also turn `123` or `true` into text,
//! so a body is accepted exactly when it matches its published schema.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonString(pub String);

impl JsonString {
    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for JsonString {
    type Target = String;

    fn deref(&self) -> &String {
        &self.0
    }
}

impl From<JsonString> for String {
    fn from(s: JsonString) -> Self {
        s.0
    }
}

impl From<&str> for JsonString {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl Type for JsonString {
    const IS_REQUIRED: bool = true;

    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for JsonString {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => Ok(Self(s)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for JsonString {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_json_string_parses() {
        let ok = JsonString::parse_from_json(Some(json!("abc"))).ok();
        assert_eq!(ok, Some(JsonString::from("abc")));
        for wrong in [
            json!(123),
            json!(true),
            json!(null),
            json!(["a"]),
            json!({}),
        ] {
            assert!(JsonString::parse_from_json(Some(wrong)).is_err());
        }
        assert!(JsonString::parse_from_json(None).is_err());
        assert!(Option::<JsonString>::parse_from_json(Some(Value::Null)).is_ok());
    }
}

//! Adapters (http): `WireExecutionId`, an execution id as workers send it: a JSON string of
//! 1 to 64 ASCII letters, digits, `-` or `_`, or a JSON integer that fits in an int64. The
//! schema says exactly that, so the published spec and the parser agree.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::domain::ExecutionId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireExecutionId(pub ExecutionId);

impl Type for WireExecutionId {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "execution_id".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let text = MetaSchema {
            pattern: Some(r"^\s*[A-Za-z0-9_-]{1,64}\s*$".to_owned()),
            ..MetaSchema::new("string")
        };
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("A JSON string or integer."),
            any_of: vec![
                MetaSchemaRef::Inline(Box::new(text)),
                MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("integer", "int64"))),
            ],
            ..MetaSchema::ANY
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for WireExecutionId {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            // NoETL's ids are PostgreSQL bigints: an integer must fit in an int64.
            Some(Value::Number(n)) if n.is_f64() => Err(ParseError::custom(
                "execution_id: must be a string or an integer",
            )),
            Some(Value::Number(n)) if n.as_i64().is_none() => Err(ParseError::custom(
                "execution_id: an integer id must fit in a signed 64-bit integer",
            )),
            Some(v @ (Value::String(_) | Value::Number(_))) => serde_json::from_value(v)
                .map(Self)
                .map_err(|e| ParseError::custom(e.to_string())),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for WireExecutionId {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.as_str().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_integers_parse_and_nothing_else() {
        for ok in [
            json!("583140612345678901"),
            json!(583_140_612_345_678_901_u64),
            json!(-3),
        ] {
            assert!(WireExecutionId::parse_from_json(Some(ok)).is_ok());
        }
        for wrong in [
            json!(9_223_372_036_854_775_808_u64),
            json!(1.5),
            json!(true),
            json!(""),
            json!("a/b"),
            json!({}),
            json!([1]),
        ] {
            assert!(
                WireExecutionId::parse_from_json(Some(wrong.clone())).is_err(),
                "{wrong}"
            );
        }
    }
}

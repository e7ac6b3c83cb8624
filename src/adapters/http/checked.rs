//! Adapters (http): `Checked<R>`, the string field of a request body. It takes a JSON string
//! and nothing else (poem-openapi's `String` would also turn `123` or `true` into text). Its
//! rule, when it has one, is published in the schema (pattern, maximum length) and checked
//! on parse by hand-written code (the domain's own parser), not by a regular expression
//! compiled per request. `JsonString` is the field without a rule.

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::domain::{IdpToken, Permission, PlaybookPath, RequestId, SessionToken};

/// A rule for a string field: what the schema says, and the check that matches it.
pub trait Rule: Send + Sync + 'static {
    /// ECMA-262 pattern for the schema.
    const PATTERN: Option<&'static str> = None;
    const MAX_LENGTH: Option<usize> = None;
    /// Why `value` breaks the rule, if it does.
    fn check(_value: &str) -> Result<(), String> {
        Ok(())
    }
}

/// No rule beyond being a JSON string.
pub struct AnyText;

impl Rule for AnyText {}

/// A string field without a rule.
pub type JsonString = Checked<AnyText>;

pub struct Checked<R>(String, PhantomData<R>);

impl<R> std::fmt::Debug for Checked<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value may be a secret (a session or identity token).
        f.write_str("Checked(..)")
    }
}

impl<R> std::ops::Deref for Checked<R> {
    type Target = String;

    fn deref(&self) -> &String {
        &self.0
    }
}

impl<R> From<Checked<R>> for String {
    fn from(value: Checked<R>) -> Self {
        value.0
    }
}

impl<R: Rule> Type for Checked<R> {
    const IS_REQUIRED: bool = true;

    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            pattern: R::PATTERN.map(str::to_owned),
            max_length: R::MAX_LENGTH,
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<R: Rule> ParseFromJSON for Checked<R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => {
                if let Some(max) = R::MAX_LENGTH
                    && s.chars().count() > max
                {
                    return Err(ParseError::custom(format!(
                        "verification failed: at most {max} characters"
                    )));
                }
                match R::check(&s) {
                    Ok(()) => Ok(Self(s, PhantomData)),
                    Err(why) => Err(ParseError::custom(format!("verification failed: {why}"))),
                }
            }
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl<R: Rule> ToJSON for Checked<R> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

fn reason(err: crate::domain::ValidationError) -> String {
    err.to_string()
}

/// A session token: visible ASCII, blanks around it ignored.
pub struct TokenRule;

impl Rule for TokenRule {
    const PATTERN: Option<&'static str> = Some(r"^\s*[!-~]+\s*$");
    const MAX_LENGTH: Option<usize> = Some(4096);
    fn check(value: &str) -> Result<(), String> {
        SessionToken::check(value).map(drop).map_err(reason)
    }
}

/// An identity provider's token: anything with a visible character.
pub struct IdpTokenRule;

impl Rule for IdpTokenRule {
    const PATTERN: Option<&'static str> = Some(r"\S");
    const MAX_LENGTH: Option<usize> = Some(16384);
    fn check(value: &str) -> Result<(), String> {
        IdpToken::parse(value).map(drop).map_err(reason)
    }
}

/// A playbook's catalog path.
pub struct PlaybookPathRule;

impl Rule for PlaybookPathRule {
    const PATTERN: Option<&'static str> = Some(
        r"^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\.\.[A-Za-z0-9._-]+)(?:/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\.\.[A-Za-z0-9._-]+))*$",
    );
    const MAX_LENGTH: Option<usize> = Some(256);
    fn check(value: &str) -> Result<(), String> {
        PlaybookPath::parse(value).map(drop).map_err(reason)
    }
}

/// `execute`, `view` or `modify`, in any case.
pub struct PermissionRule;

impl Rule for PermissionRule {
    const PATTERN: Option<&'static str> =
        Some(r"^\s*(?:[Ee][Xx][Ee][Cc][Uu][Tt][Ee]|[Vv][Ii][Ee][Ww]|[Mm][Oo][Dd][Ii][Ff][Yy])\s*$");
    const MAX_LENGTH: Option<usize> = Some(64);
    fn check(value: &str) -> Result<(), String> {
        Permission::parse(value).map(drop).map_err(reason)
    }
}

/// The `request_id` the gateway put in a workload.
pub struct RequestIdRule;

impl Rule for RequestIdRule {
    const PATTERN: Option<&'static str> = Some(r"^[A-Za-z0-9_.:-]+$");
    const MAX_LENGTH: Option<usize> = Some(128);
    fn check(value: &str) -> Result<(), String> {
        RequestId::parse(value).map(drop).map_err(reason)
    }
}

fn one_of(value: &str, words: &[&str]) -> Result<(), String> {
    let word = value.trim().to_ascii_lowercase();
    if words.contains(&word.as_str()) {
        Ok(())
    } else {
        Err(format!("must be one of {}", words.join(", ")))
    }
}

/// An auth playbook's status: `success` or `error` (and their synonyms), in any case.
pub struct AuthStatusRule;

impl Rule for AuthStatusRule {
    const PATTERN: Option<&'static str> = Some(
        r"^\s*([Ss][Uu][Cc][Cc][Ee][Ss][Ss]|[Oo][Kk]|[Cc][Oo][Mm][Pp][Ll][Ee][Tt][Ee][Dd]|[Ee][Rr][Rr][Oo][Rr]|[Ff][Aa][Ii][Ll][Ee][Dd]|[Ff][Aa][Ii][Ll][Uu][Rr][Ee])\s*$",
    );
    const MAX_LENGTH: Option<usize> = Some(64);
    fn check(value: &str) -> Result<(), String> {
        one_of(
            value,
            &["success", "ok", "completed", "error", "failed", "failure"],
        )
    }
}

/// A playbook result's status: `COMPLETED` or `FAILED` (and their synonyms), in any case.
pub struct ResultStatusRule;

impl Rule for ResultStatusRule {
    const PATTERN: Option<&'static str> = Some(
        r"^\s*([Cc][Oo][Mm][Pp][Ll][Ee][Tt][Ee][Dd]|[Ss][Uu][Cc][Cc][Ee][Ss][Ss]|[Ff][Aa][Ii][Ll][Ee][Dd]|[Ee][Rr][Rr][Oo][Rr])\s*$",
    );
    const MAX_LENGTH: Option<usize> = Some(64);
    fn check(value: &str) -> Result<(), String> {
        one_of(value, &["completed", "success", "failed", "error"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parses<R: Rule>(v: Value) -> bool {
        Checked::<R>::parse_from_json(Some(v)).is_ok()
    }

    #[test]
    fn rules_accept_what_their_patterns_accept() {
        assert!(parses::<TokenRule>(json!(" sess-abc ")));
        assert!(!parses::<TokenRule>(json!("")));
        assert!(!parses::<TokenRule>(json!("caf\u{e9}")));
        assert!(!parses::<TokenRule>(json!(12)));
        assert!(!parses::<TokenRule>(json!("a".repeat(4097))));
        assert!(parses::<PlaybookPathRule>(json!("a/..b/.c")));
        assert!(!parses::<PlaybookPathRule>(json!("a/../b")));
        assert!(parses::<PermissionRule>(json!(" EXECUTE ")));
        assert!(!parses::<PermissionRule>(json!("own")));
        assert!(parses::<AuthStatusRule>(json!("Success")));
        assert!(!parses::<ResultStatusRule>(json!("maybe")));
        assert!(parses::<RequestIdRule>(json!("req-1:a.b_c")));
        assert!(!parses::<RequestIdRule>(json!("has space")));
        assert!(!parses::<IdpTokenRule>(json!("   ")));
    }

    #[test]
    fn a_field_without_a_rule_takes_any_json_string_and_only_that() {
        assert!(parses::<AnyText>(json!("")));
        assert!(parses::<AnyText>(json!("abc")));
        for wrong in [
            json!(123),
            json!(true),
            json!(null),
            json!(["a"]),
            json!({}),
        ] {
            assert!(!parses::<AnyText>(wrong));
        }
        assert!(JsonString::parse_from_json(None).is_err());
        assert!(Option::<JsonString>::parse_from_json(Some(Value::Null)).is_ok());
    }
}

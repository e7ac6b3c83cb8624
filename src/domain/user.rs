//! Domain: the authenticated user and the loose shapes its id and roles arrive in.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A user's 64-bit id; arrives as a JSON number or a numeric string, leaves as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(i64);

impl UserId {
    pub fn new(id: i64) -> Self {
        Self(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_i64()
                .map(Self)
                .ok_or_else(|| serde::de::Error::custom("user_id must be a 64-bit integer")),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Self)
                .map_err(|_| serde::de::Error::custom("user_id must be a 64-bit integer")),
            _ => Err(serde::de::Error::custom(
                "user_id must be a number or a numeric string",
            )),
        }
    }
}

/// A user's roles. Arrives as a JSON array, a JSON-array string, a Postgres array literal
/// `{a,b}`, or one plain string; always leaves as a JSON array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Roles(Vec<String>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self(roles.into_iter().map(Into::into).collect())
    }

    /// Reads roles from any of the shapes NoETL and its playbooks produce. Unknown shapes
    /// (numbers, objects) give no roles rather than an error: roles only ever grant.
    pub fn from_loose(value: &Value) -> Self {
        match value {
            Value::Array(items) => Self::new(items.iter().filter_map(|v| match v {
                Value::String(s) => Some(s.trim().to_owned()),
                _ => None,
            })),
            Value::String(s) => Self::from_text(s),
            _ => Self::default(),
        }
    }

    fn from_text(text: &str) -> Self {
        let text = text.trim();
        if text.starts_with('[')
            && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text)
        {
            return Self::from_loose(&Value::Array(items));
        }
        if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            return Self::new(
                inner
                    .split(',')
                    .map(|r| r.trim().trim_matches('"').to_owned())
                    .filter(|r| !r.is_empty()),
            );
        }
        if text.is_empty() {
            Self::default()
        } else {
            Self::new([text])
        }
    }

    pub fn contains(&self, role: &str) -> bool {
        self.0.iter().any(|r| r == role)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_loose(&Value::deserialize(d)?))
    }
}

/// The verified identity behind a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub user_id: UserId,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub roles: Roles,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_are_read_from_every_shape_they_arrive_in() {
        let want = Roles::new(["admin", "dev"]);
        assert_eq!(Roles::from_loose(&json!(["admin", "dev"])), want);
        assert_eq!(Roles::from_loose(&json!("[\"admin\",\"dev\"]")), want);
        assert_eq!(Roles::from_loose(&json!("{admin,dev}")), want);
        assert_eq!(Roles::from_loose(&json!("{\"admin\", dev}")), want);
        assert_eq!(Roles::from_loose(&json!("admin")), Roles::new(["admin"]));
        assert_eq!(Roles::from_loose(&json!("{}")), Roles::default());
        assert_eq!(Roles::from_loose(&json!(null)), Roles::default());
    }

    #[test]
    fn user_id_arrives_as_number_or_numeric_string_and_leaves_as_number() {
        let a: User = serde_json::from_value(json!({"user_id": 9007199254740993_i64})).unwrap();
        let b: User = serde_json::from_value(json!({"user_id": "9007199254740993"})).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_value(&a).unwrap()["user_id"],
            json!(9007199254740993_i64)
        );
        assert!(serde_json::from_value::<User>(json!({"user_id": "x"})).is_err());
        assert!(serde_json::from_value::<User>(json!({"user_id": 1.5})).is_err());
    }
}

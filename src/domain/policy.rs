//! Domain: which upstream paths need which roles. Rules are `pattern=role[,role…]` joined by
//! `;`; a pattern is a path under `/api/` where `*` matches one segment and a trailing `**`
//! any rest. The first matching rule decides; a path no rule matches is open to every session.

use super::{Roles, ValidationError};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    segments: Vec<String>,
    roles: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathPolicy {
    rules: Vec<Rule>,
}

impl PathPolicy {
    /// # Errors
    /// A [`ValidationError`] for `GATEWAY_PROXY_POLICY` naming the malformed rule.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let mut rules = Vec::new();
        for rule in text.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let (pattern, roles) = rule.split_once('=').ok_or_else(|| {
                ValidationError::new("proxy_policy", format!("{rule:?} needs pattern=role"))
            })?;
            let roles: Vec<String> = roles
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
            let segments: Vec<String> = pattern
                .trim()
                .trim_matches('/')
                .split('/')
                .map(str::to_owned)
                .collect();
            let bad_glob = segments
                .iter()
                .enumerate()
                .any(|(i, s)| s == "**" && i + 1 != segments.len());
            if roles.is_empty() || segments.iter().any(String::is_empty) || bad_glob {
                return Err(ValidationError::new(
                    "proxy_policy",
                    format!("{rule:?} is not pattern=role[,role]"),
                ));
            }
            rules.push(Rule { segments, roles });
        }
        Ok(Self { rules })
    }

    /// The roles that may use `path` (relative to `/api/`), or `None` when it is open.
    pub fn required(&self, path: &str) -> Option<&[String]> {
        let path = path.trim_matches('/');
        self.rules
            .iter()
            .find(|r| matches(&r.segments, path.split('/')))
            .map(|r| r.roles.as_slice())
    }

    /// Whether a session with `roles` may use `path`.
    pub fn allows(&self, path: &str, roles: &Roles) -> bool {
        self.required(path)
            .is_none_or(|need| need.iter().any(|r| roles.contains(r)))
    }
}

/// Whether the path's `parts` fit `pattern`, segment by segment (`*` one segment, `**` the
/// rest), without collecting them (this runs on every proxied request).
fn matches<'a>(pattern: &[String], mut parts: impl Iterator<Item = &'a str>) -> bool {
    for segment in pattern {
        if segment == "**" {
            return true;
        }
        match parts.next() {
            Some(part) if segment == "*" || segment == part => {}
            _ => return false,
        }
    }
    parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_decides_and_unmatched_paths_are_open() {
        let policy = PathPolicy::parse(
            "credentials/**=admin; postgres/execute=admin,dba; executions/*/cancel=operator",
        )
        .unwrap();
        let admin = Roles::new(["admin"]);
        let dev = Roles::new(["dev"]);
        assert!(!policy.allows("credentials", &dev));
        assert!(!policy.allows("credentials/pg/secret", &dev));
        assert!(policy.allows("credentials/pg", &admin));
        assert!(policy.allows("postgres/execute", &Roles::new(["dba"])));
        assert!(!policy.allows("executions/42/cancel", &dev));
        assert!(policy.allows("executions/42", &dev));
        assert!(
            policy.allows("executions/42/cancel/more", &dev),
            "a longer path"
        );
        assert!(!policy.allows("/credentials/", &dev), "slashes around it");
        assert!(policy.allows("catalog/list", &dev));
        assert!(PathPolicy::parse("nope").is_err());
        assert!(PathPolicy::parse("a/**/b=admin").is_err());
        assert!(PathPolicy::parse("a=").is_err());
        assert_eq!(PathPolicy::parse("").unwrap(), PathPolicy::default());
    }
}

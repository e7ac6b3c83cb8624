//! Adapters (nats): K/V keys and subject tokens made from identifiers. Identifiers that hold
//! characters outside `[A-Za-z0-9_-]` (a `.` would split a token, a `:` is not allowed in a
//! key) are hex-encoded behind an `x` so no two identifiers share a key.

pub(crate) fn token(id: &str) -> String {
    let plain = !id.is_empty()
        && !id.starts_with('x')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if plain {
        id.to_owned()
    } else {
        let mut out = String::with_capacity(1 + id.len() * 2);
        out.push('x');
        for b in id.bytes() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::token;

    #[test]
    fn only_plain_ids_pass_unchanged_and_encoded_ones_cannot_collide_with_them() {
        assert_eq!(token("550e8400-e29b-41d4"), "550e8400-e29b-41d4");
        assert_eq!(token("a.b"), "x612e62");
        assert_eq!(token("a:b"), "x613a62");
        assert_eq!(
            token("x1"),
            "x7831",
            "a plain id starting with x is encoded too"
        );
    }
}

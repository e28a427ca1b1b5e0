//! Typed, prefixed, random identifiers (decisions.md: id prefixes) and one-time secrets.
//!
//! Ids are opaque: a type prefix and 20 random characters of `[0-9a-z]` (about 103 bits),
//! never sequential, never reused. Each kind is its own type so they cannot be swapped.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// `prefix` and `len` characters drawn uniformly from ALPHABET: a random byte below 252
/// (7 × 36) picks one character, a higher one is drawn again. One allocation.
fn with_random_suffix(prefix: &str, len: usize) -> String {
    let mut out = vec![0u8; prefix.len() + len];
    out[..prefix.len()].copy_from_slice(prefix.as_bytes());
    fill_random(&mut out[prefix.len()..]);
    // Prefixes are ASCII literals and ALPHABET is ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Fill `out` with characters of ALPHABET drawn uniformly.
fn fill_random(out: &mut [u8]) {
    let mut rng = rand::rng();
    let mut pool = [0u8; 32];
    let mut at = 0;
    while at < out.len() {
        rng.fill(&mut pool);
        for b in pool.iter().filter(|b| **b < 252) {
            let Some(slot) = out.get_mut(at) else { break };
            *slot = ALPHABET[usize::from(*b % 36)];
            at += 1;
        }
    }
}

macro_rules! id_type {
    ($name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                $name(with_random_suffix($prefix, 20))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
    };
}

id_type!(TenantId, "ten_");
id_type!(UserId, "usr_");
id_type!(MembershipId, "adm_");
id_type!(NetworkId, "net_");
id_type!(DelegationId, "del_");
id_type!(MappingId, "map_");
id_type!(EnrolmentId, "enr_");
id_type!(AuditId, "aud_");
id_type!(SigningKeyId, "sig_");
id_type!(ApiKeyId, "apk_");
id_type!(SessionId, "ses_");
id_type!(GroupId, "grp_");
id_type!(ScimTokenId, "stk_");

/// A request id: `req_` and 20 random characters (not a secret).
/// A request id, `req_` and 20 characters, as ASCII bytes: made on every request, so on
/// the stack.
pub fn request_id() -> [u8; 24] {
    let mut out = *b"req_00000000000000000000";
    fill_random(&mut out[4..]);
    out
}

/// A fresh credential string: a type prefix (security.md) and 32 random bytes, base64url.
pub fn credential(prefix: &str) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_drawn_from_the_alphabet() {
        let mut seen = std::collections::HashSet::new();
        let mut counts = [0usize; 36];
        for _ in 0..2000 {
            let id = TenantId::generate();
            assert_eq!(id.as_str().len(), 24);
            assert!(id.as_str().starts_with("ten_"));
            for b in id.as_str()[4..].bytes() {
                let i = ALPHABET.iter().position(|a| *a == b).expect("alphabet");
                counts[i] += 1;
            }
            assert!(seen.insert(id));
            let rid = request_id();
            assert!(rid.starts_with(b"req_"));
            assert!(rid[4..].iter().all(|b| ALPHABET.contains(b)));
        }
        // 40,000 draws, about 1,111 per character: every one appears, none dominates.
        assert!(counts.iter().all(|c| (800..1500).contains(c)), "{counts:?}");
    }
}

//! Typed, prefixed, random identifiers (decisions.md: id prefixes) and one-time secrets.
//!
//! Ids are opaque: a type prefix and 20 random characters of `[0-9a-z]` (about 103 bits),
//! never sequential, never reused. Each kind is its own type so they cannot be swapped.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn random_suffix(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

macro_rules! id_type {
    ($name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                $name(format!("{}{}", $prefix, random_suffix(20)))
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
pub fn request_id() -> String {
    format!("req_{}", random_suffix(20))
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

//! A user's standing as MSP staff: the directly assigned staff role (with its scope) and
//! every role mapping of the MSP's own directory (SCIM groups, federation claims) that names
//! an MSP role. Everything that asks "is this user MSP staff, in which role, reaching which
//! customers" reads it here, so staff from the directory count wherever assigned staff do.

use crate::error::Result;
use crate::ids::TenantId;
use crate::store::{self, mappings as map_rows, privileges as priv_rows, Conn};

/// Which customers a staff role covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffScope {
    All,
    Listed(Vec<String>),
}

/// One source of an MSP role: the assignment (`via: None`) or a named role mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffGrant {
    pub role: String,
    pub scope: StaffScope,
    pub via: Option<String>,
}

/// Every MSP role a user holds in its MSP tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub grants: Vec<StaffGrant>,
}

/// Roles from the widest to the narrowest, for the one role a token's `msp` claim names.
const RANK: [&str; 6] = [
    "super-user",
    "network-admin",
    "observer",
    "helpdesk",
    "installer",
    "technician",
];

fn rank(role: &str) -> usize {
    RANK.iter().position(|r| *r == role).unwrap_or(RANK.len())
}

impl StaffGrant {
    /// A super-user covers every customer; a technician holds no MSP role and reaches
    /// customers only through delegations.
    fn covers(&self, customer: &str) -> bool {
        if self.role == "super-user" {
            return true;
        }
        if self.role == "technician" {
            return false;
        }
        match &self.scope {
            StaffScope::All => true,
            StaffScope::Listed(ids) => ids.iter().any(|c| c == customer),
        }
    }

    fn covers_all(&self) -> bool {
        self.role == "super-user" || (self.role != "technician" && self.scope == StaffScope::All)
    }
}

impl Standing {
    /// The standing of `user` in the MSP tenant `msp` (empty for anyone else).
    pub async fn load(conn: &mut Conn, msp: &TenantId, user: &str) -> Result<Standing> {
        let mut grants = Vec::new();
        if let Some(s) = priv_rows::staff_role(conn, msp, user).await? {
            let scope = if s.scope_all != 0 {
                StaffScope::All
            } else {
                let listed: Vec<(String,)> = sqlx::query_as(
                    "SELECT customer_id FROM msp_staff_scope WHERE tenant_id = $1 AND user_id = $2 \
                     ORDER BY customer_id",
                )
                .bind(msp.as_str())
                .bind(user)
                .fetch_all(&mut *conn)
                .await
                .map_err(store::db)?;
                StaffScope::Listed(listed.into_iter().map(|(c,)| c).collect())
            };
            grants.push(StaffGrant {
                role: s.role,
                scope,
                via: None,
            });
        }
        for (name, role, scope) in map_rows::msp_roles_of_user(conn, msp, user).await? {
            grants.push(StaffGrant {
                role,
                scope: parse_scope(scope.as_deref()),
                via: Some(name),
            });
        }
        Ok(Standing { grants })
    }

    pub fn is_staff(&self) -> bool {
        !self.grants.is_empty()
    }

    /// The widest role held, by the order super-user, network-admin, observer, helpdesk,
    /// installer, technician.
    pub fn role(&self) -> Option<&str> {
        self.grants
            .iter()
            .min_by_key(|g| rank(&g.role))
            .map(|g| g.role.as_str())
    }

    pub fn is_super_user(&self) -> bool {
        self.grants.iter().any(|g| g.role == "super-user")
    }

    /// Whether some role covers every customer of the MSP.
    pub fn sees_all(&self) -> bool {
        self.grants.iter().any(StaffGrant::covers_all)
    }

    /// Whether some role covers `customer` (delegations aside).
    pub fn reaches(&self, customer: &str) -> bool {
        self.grants.iter().any(|g| g.covers(customer))
    }
}

/// A role mapping's MSP scope: `"all"` or a JSON list of customer tenant ids; anything
/// else covers nothing.
pub fn parse_scope(scope: Option<&str>) -> StaffScope {
    match scope.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()) {
        Some(serde_json::Value::String(s)) if s == "all" => StaffScope::All,
        Some(serde_json::Value::Array(ids)) => StaffScope::Listed(
            ids.iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
        ),
        _ => StaffScope::Listed(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: &str, scope: StaffScope) -> StaffGrant {
        StaffGrant {
            role: role.into(),
            scope,
            via: None,
        }
    }

    #[test]
    fn widest_role_and_reach() {
        let s = Standing {
            grants: vec![
                grant("observer", StaffScope::Listed(vec!["c1".into()])),
                grant("network-admin", StaffScope::Listed(vec!["c2".into()])),
            ],
        };
        assert_eq!(s.role(), Some("network-admin"));
        assert!(s.reaches("c1") && s.reaches("c2") && !s.reaches("c3"));
        assert!(!s.sees_all() && !s.is_super_user());
        let su = Standing {
            grants: vec![grant("super-user", StaffScope::Listed(vec![]))],
        };
        assert!(su.sees_all() && su.reaches("any") && su.is_super_user());
        let tech = Standing {
            grants: vec![grant("technician", StaffScope::All)],
        };
        assert!(tech.is_staff() && !tech.sees_all() && !tech.reaches("c1"));
        assert_eq!(Standing::default().role(), None);
    }

    #[test]
    fn scopes_parse() {
        assert_eq!(parse_scope(Some("\"all\"")), StaffScope::All);
        assert_eq!(
            parse_scope(Some("[\"a\",\"b\"]")),
            StaffScope::Listed(vec!["a".into(), "b".into()])
        );
        assert_eq!(parse_scope(Some("nonsense")), StaffScope::Listed(vec![]));
        assert_eq!(parse_scope(None), StaffScope::Listed(vec![]));
    }
}

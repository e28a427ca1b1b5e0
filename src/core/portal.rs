//! Helpers of the web console (src/portal): who a browser session stands for, as the
//! admin API would see the same user. Never imports http or axum.

use super::privileges::Principal;
use super::sessions::Session;
use super::tokens::Subject;
use super::{Core, Result};
use crate::store::users as user_rows;
use crate::tenancy::Tenant;
use std::sync::Arc;

impl Core {
    /// The admin-API principal of a session on `host`: the local user, or the MSP user an
    /// `act` session stands for (exactly as `principal_from_access_token` resolves a token
    /// with `act`). None when the user is gone or not active.
    pub async fn principal_from_session(
        &self,
        host: &Arc<Tenant>,
        session: &Session,
    ) -> Result<Option<Principal>> {
        let subject = Subject::acting(host, &session.user_id, session.act.as_ref());
        let home = if subject.home == host.id {
            host.clone()
        } else {
            match self.tenants.by_id(&subject.home).await? {
                Some(m) => m,
                None => return Ok(None),
            }
        };
        let mut conn = self.store.conn().await?;
        let Some(user) = user_rows::user_by_id(&mut conn, &home.id, &subject.user_id).await? else {
            return Ok(None);
        };
        if user.status != "active" {
            return Ok(None);
        }
        Ok(Some(Principal {
            home,
            user_id: user.id,
            email: user.email,
            api_key_id: None,
        }))
    }
}

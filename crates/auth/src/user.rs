//! Who signs in: a MentraOS user or a local account.

use serde::{Deserialize, Serialize};

/// A signed-in person. `id` is stable and namespaced by provider (`mentra:…`, `local:…`);
/// `name` is what pages show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub name: String,
}

impl User {
    /// A MentraOS user: the cloud's user id is the lower-cased e-mail address.
    pub fn mentra(user_id: &str) -> Self {
        Self {
            id: format!("mentra:{user_id}"),
            name: user_id.to_owned(),
        }
    }

    pub fn local(username: &str, display_name: &str) -> Self {
        Self {
            id: format!("{LOCAL_USER_PREFIX}{username}"),
            name: display_name.to_owned(),
        }
    }
}

/// How the ids of local accounts begin (`local:erin`).
pub const LOCAL_USER_PREFIX: &str = "local:";

//! ListSecrets.

use super::Ctx;
use super::shapes::{self, FilterShape, Flavor, SecretDescription};
use crate::error::Result;
use crate::services::secretsmanager::state::{Cursor, ListQuery, SortBy};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsInput {
    include_planned_deletion: Option<bool>,
    max_results: Option<usize>,
    next_token: Option<String>,
    filters: Option<Vec<FilterShape>>,
    sort_order: Option<String>,
    sort_by: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsOutput {
    secret_list: Vec<SecretDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const DEFAULT_PAGE: usize = 100;

pub fn list_secrets(ctx: &Ctx<'_>, input: ListSecretsInput) -> Result<ListSecretsOutput> {
    // The model's enums have already rejected any other spelling.
    let sort_by = match input.sort_by.as_deref() {
        Some("name") => SortBy::Name,
        Some("last-changed-date") => SortBy::LastChangedDate,
        Some("last-accessed-date") => SortBy::LastAccessedDate,
        _ => SortBy::CreatedDate,
    };
    let query = ListQuery {
        filters: shapes::filters_to_state(input.filters.unwrap_or_default())?,
        include_planned_deletion: input.include_planned_deletion.unwrap_or(false),
        sort_by,
        descending: input.sort_order.as_deref() == Some("desc"),
        max: input.max_results.unwrap_or(DEFAULT_PAGE),
        after: input.next_token.as_deref().map(shapes::decode_token::<Cursor>).transpose()?,
    };
    let (secret_list, next) =
        ctx.engine().list_secrets(ctx.scope(), &query, |s| SecretDescription::of(s, Flavor::ListEntry));
    Ok(ListSecretsOutput { secret_list, next_token: next.as_ref().map(shapes::encode_token) })
}

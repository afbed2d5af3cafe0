//! TagResource and UntagResource: both answer an empty body.

use super::Ctx;
use super::shapes::{self, Tag};
use crate::error::Result;
use crate::services::secretsmanager::state::ident;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    secret_id: String,
    tags: Vec<Tag>,
}

pub fn tag_resource(ctx: &Ctx<'_>, input: TagResourceInput) -> Result<()> {
    ident::check_secret_id(&input.secret_id)?;
    let tags = shapes::tags_to_state(input.tags)?;
    ctx.engine().tag_resource(ctx.scope(), &input.secret_id, &tags)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    secret_id: String,
    tag_keys: Vec<String>,
}

pub fn untag_resource(ctx: &Ctx<'_>, input: UntagResourceInput) -> Result<()> {
    ident::check_secret_id(&input.secret_id)?;
    for key in &input.tag_keys {
        shapes::check_tag_key(key)?;
    }
    ctx.engine().untag_resource(ctx.scope(), &input.secret_id, &input.tag_keys)
}

//! GetRandomPassword.

use super::Ctx;
use crate::error::{ApiError, ErrorCode, Result};
use crate::services::secretsmanager::password::{self, PasswordError, PasswordSpec};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRandomPasswordInput {
    password_length: Option<u64>,
    exclude_characters: Option<String>,
    exclude_numbers: Option<bool>,
    exclude_punctuation: Option<bool>,
    exclude_uppercase: Option<bool>,
    exclude_lowercase: Option<bool>,
    include_space: Option<bool>,
    require_each_included_type: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRandomPasswordOutput {
    random_password: String,
}

pub fn get_random_password(ctx: &Ctx<'_>, input: GetRandomPasswordInput) -> Result<GetRandomPasswordOutput> {
    let defaults = PasswordSpec::default();
    let spec = PasswordSpec {
        length: input.password_length.unwrap_or(defaults.length),
        exclude_characters: input.exclude_characters.unwrap_or_default(),
        exclude_numbers: input.exclude_numbers.unwrap_or(false),
        exclude_punctuation: input.exclude_punctuation.unwrap_or(false),
        exclude_uppercase: input.exclude_uppercase.unwrap_or(false),
        exclude_lowercase: input.exclude_lowercase.unwrap_or(false),
        include_space: input.include_space.unwrap_or(false),
        require_each_included_type: input.require_each_included_type.unwrap_or(defaults.require_each_included_type),
    };
    let random_password = password::generate(&spec, ctx.engine().rng()).map_err(|e| match e {
        PasswordError::RandomSourceFailed => ApiError::internal("random source failed"),
        other => ApiError::new(ErrorCode::InvalidParameterException, other.message()),
    })?;
    Ok(GetRandomPasswordOutput { random_password })
}

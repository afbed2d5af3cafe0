//! PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy, ValidateResourcePolicy and
//! ListResourcePolicies. A secret has at most one policy, named `default`.

use super::{At, Ctx, Refused};
use crate::api_error;
use crate::error::Result;
use crate::services::secretsmanager::policy;
use crate::services::secretsmanager::state::secret::ResourcePolicy;
use crate::services::secretsmanager::state::{cross_account, ident};
use serde::{Deserialize, Serialize};

const DEFAULT_POLICY: &str = "default";

fn check_policy_name(name: Option<&str>) -> Result<()> {
    match name {
        None | Some(DEFAULT_POLICY) => Ok(()),
        Some(other) => Err(api_error!(
            InvalidParameterException,
            "The policy name {other} isn't valid. A secret has one resource policy, named default."
        )),
    }
}

fn malformed(e: policy::Malformed) -> crate::error::ApiError {
    crate::error::ApiError::new(crate::error::ErrorCode::MalformedPolicyDocumentException, e.0)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutResourcePolicyInput {
    secret_id: String,
    resource_policy: String,
    policy_name: Option<String>,
    block_public_policy: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_policy: Option<String>,
    policy_name: String,
}

/// PutResourcePolicy's own checks: the secret it names and the policy to attach.
///
/// # Errors
/// The first check that fails, with the member it is about.
pub fn prepare_put_resource_policy(
    input: PutResourcePolicyInput,
) -> std::result::Result<(String, ResourcePolicy), Refused> {
    ident::check_secret_id(&input.secret_id).at("secretId")?;
    check_policy_name(input.policy_name.as_deref()).at("policyName")?;
    let parsed = policy::check(&input.resource_policy).map_err(malformed).at("resourcePolicy")?;
    let block_public = input.block_public_policy.unwrap_or(false);
    if block_public && policy::grants_public_access(&parsed) {
        return Err(api_error!(PublicPolicyException, "This resource policy will grant public access to the secret."))
            .at("resourcePolicy");
    }
    Ok((input.secret_id, ResourcePolicy { document: input.resource_policy.into(), block_public, name: None }))
}

pub fn put_resource_policy(ctx: &Ctx<'_>, input: PutResourcePolicyInput) -> Result<PolicyOutput> {
    let (secret_id, stored) = prepare_put_resource_policy(input)?;
    let (arn, name) = ctx.engine().set_policy(ctx.scope(), &secret_id, Some(stored))?;
    Ok(PolicyOutput { arn, name, resource_policy: None, policy_name: DEFAULT_POLICY.to_owned() })
}

/// The name a secret's policy is listed under.
fn name_of(policy: &ResourcePolicy) -> String {
    policy.name.clone().unwrap_or_else(|| DEFAULT_POLICY.to_owned())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyRefInput {
    secret_id: String,
    policy_name: Option<String>,
}

pub fn get_resource_policy(ctx: &Ctx<'_>, input: PolicyRefInput) -> Result<PolicyOutput> {
    ident::check_secret_id(&input.secret_id)?;
    // A cross-account replica's policy goes by the name AWS gives it.
    if input.policy_name.as_deref() != Some(cross_account::SYSTEM_POLICY_NAME) {
        check_policy_name(input.policy_name.as_deref())?;
    }
    ctx.engine().read_secret(ctx.scope(), &input.secret_id, |s| {
        Ok(PolicyOutput {
            arn: s.arn.clone(),
            name: s.name.clone(),
            resource_policy: s.policy.as_ref().map(|p| p.document.to_string()),
            policy_name: s.policy.as_ref().map_or_else(|| DEFAULT_POLICY.to_owned(), name_of),
        })
    })
}

pub fn delete_resource_policy(ctx: &Ctx<'_>, input: PolicyRefInput) -> Result<PolicyOutput> {
    ident::check_secret_id(&input.secret_id)?;
    check_policy_name(input.policy_name.as_deref())?;
    let (arn, name) = ctx.engine().set_policy(ctx.scope(), &input.secret_id, None)?;
    Ok(PolicyOutput { arn, name, resource_policy: None, policy_name: DEFAULT_POLICY.to_owned() })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidateResourcePolicyInput {
    secret_id: Option<String>,
    resource_policy: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidationEntry {
    check_name: &'static str,
    error_message: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidateResourcePolicyOutput {
    policy_validation_passed: bool,
    validation_errors: Vec<ValidationEntry>,
}

pub fn validate_resource_policy(
    ctx: &Ctx<'_>,
    input: ValidateResourcePolicyInput,
) -> Result<ValidateResourcePolicyOutput> {
    if let Some(id) = &input.secret_id {
        ident::check_secret_id(id)?;
        ctx.engine().read_secret(ctx.scope(), id, |_| Ok(()))?;
    }
    let parsed = policy::check(&input.resource_policy).map_err(malformed)?;
    let mut validation_errors = Vec::new();
    if policy::grants_public_access(&parsed) {
        validation_errors.push(ValidationEntry {
            check_name: "BROAD_ACCESS_CHECK",
            error_message: "This resource policy grants access to every principal (\"*\") without a condition that narrows it.",
        });
    }
    Ok(ValidateResourcePolicyOutput { policy_validation_passed: validation_errors.is_empty(), validation_errors })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourcePoliciesInput {
    secret_id: String,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicySummary {
    policy_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourcePoliciesOutput {
    resource_policies: Vec<PolicySummary>,
}

pub fn list_resource_policies(ctx: &Ctx<'_>, input: ListResourcePoliciesInput) -> Result<ListResourcePoliciesOutput> {
    ident::check_secret_id(&input.secret_id)?;
    if input.next_token.is_some() {
        // There is never a second page: a secret has at most one policy.
        return Err(api_error!(InvalidNextTokenException, "The NextToken value is invalid."));
    }
    ctx.engine().read_secret(ctx.scope(), &input.secret_id, |s| {
        let resource_policies = s.policy.iter().map(|p| PolicySummary { policy_name: name_of(p) }).collect();
        Ok(ListResourcePoliciesOutput { resource_policies })
    })
}

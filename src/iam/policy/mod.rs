//! IAM's policy language: parsing and validation ([`Policy::parse`]), and evaluation of a
//! request against the policies that apply to it ([`evaluate`]), with AWS's refusal texts
//! ([`Denial::message`]) and an explanation of every statement ([`Finding`]).
//!
//! Identity policies, resource policies (secrets), key policies (KMS) and trust policies
//! (roles) are all the same [`Policy`]; [`PolicySet`] says which role each plays in a request.
//!
//! Evaluation is by policy type on purpose: AWS's answer depends on which policy allowed
//! (identity or resource, same account or across accounts, capped by a boundary or a session
//! policy) and its refusal text names the type that failed, so a flat "any allow, no deny"
//! over all statements cannot give AWS's decisions or texts.

mod condition;
mod denial;
mod evaluate;
mod parse;
mod pattern;
mod stored;
#[cfg(test)]
mod tests;

pub use condition::{Context, Operator, SetQualifier, date};
pub use denial::{Denial, PolicyKind};
pub use evaluate::{
    Decision, Evaluation, Finding, Mismatch, Named, Outcome, PolicySet, Principal, PrincipalKind, Request,
    ResourceKind, decide, evaluate,
};
pub use parse::{Condition, Effect, Policy, PolicyError, PolicyErrorKind, PrincipalSet, Statement};
pub use stored::StoredPolicy;

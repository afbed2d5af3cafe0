//! AWS's AccessDeniedException texts (spec §2.5), in one place.

/// The role a policy plays in a request, as AWS names it in a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Identity,
    Resource,
    Boundary,
    Session,
}

impl PolicyKind {
    /// The policy type in "no <type> allows" and "an explicit deny in <article> <type>".
    #[must_use]
    pub fn phrase(self) -> &'static str {
        match self {
            Self::Identity => "identity-based policy",
            Self::Resource => "resource-based policy",
            Self::Boundary => "permissions boundary",
            Self::Session => "session policy",
        }
    }

    fn article(self) -> &'static str {
        match self {
            Self::Identity => "an",
            Self::Resource | Self::Boundary | Self::Session => "a",
        }
    }

    /// A short name for explanations and logs.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Resource => "resource",
            Self::Boundary => "boundary",
            Self::Session => "session",
        }
    }
}

/// Why a request was refused: which of spec §2.5's texts applies. AWS names one policy type
/// only, even when several refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Denial {
    /// No policy of this kind allows the action (implicit deny).
    NoAllow(PolicyKind),
    /// A `Deny` statement in a policy of this kind applies.
    ExplicitDeny(PolicyKind),
}

impl Denial {
    /// AWS's message: `resource_as_sent` is the identifier exactly as the caller gave it (a
    /// name, a partial or a full ARN); `None` for actions without a resource, whose texts
    /// have no `on resource:` part.
    #[must_use]
    pub fn message(&self, principal_arn: &str, action: &str, resource_as_sent: Option<&str>) -> String {
        let on = resource_as_sent.map(|r| format!(" on resource: {r}")).unwrap_or_default();
        match self {
            Self::NoAllow(kind) => format!(
                "User: {principal_arn} is not authorized to perform: {action}{on} because no {} allows the {action} action",
                kind.phrase()
            ),
            Self::ExplicitDeny(kind) => format!(
                "User: {principal_arn} is not authorized to perform: {action}{on} with an explicit deny in {} {}",
                kind.article(),
                kind.phrase()
            ),
        }
    }

    /// The kind of policy the refusal names.
    #[must_use]
    pub fn policy_kind(&self) -> PolicyKind {
        match self {
            Self::NoAllow(kind) | Self::ExplicitDeny(kind) => *kind,
        }
    }
}

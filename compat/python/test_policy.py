"""Resource policies through boto3: stored as given, syntax-checked, BlockPublicPolicy."""

import json

from conftest import MARKED, expect_error

PRIVATE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }
)
PUBLIC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}]}
)


def test_put_get_delete(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=n)
    out = sm.put_resource_policy(SecretId=n, ResourcePolicy=PRIVATE)
    assert out["Name"] == n
    assert sm.get_resource_policy(SecretId=n)["ResourcePolicy"] == PRIVATE
    sm.put_resource_policy(SecretId=n, ResourcePolicy=PUBLIC)  # allowed without BlockPublicPolicy
    sm.delete_resource_policy(SecretId=n)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=n)


def test_policy_errors(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    expect_error(
        "MalformedPolicyDocumentException",
        "This resource policy contains a syntax error.",
        sm.put_resource_policy,
        SecretId=n,
        ResourcePolicy="{nope",
    )
    expect_error(
        "PublicPolicyException",
        "This resource policy will grant public access to the secret.",
        sm.put_resource_policy,
        SecretId=n,
        ResourcePolicy=PUBLIC,
        BlockPublicPolicy=True,
    )
    sm.delete_secret(SecretId=n)
    expect_error("InvalidRequestException", MARKED, sm.put_resource_policy, SecretId=n, ResourcePolicy=PRIVATE)


def test_validate_resource_policy(sm):
    ok = sm.validate_resource_policy(ResourcePolicy=PRIVATE)
    assert ok["PolicyValidationPassed"] is True
    assert ok["ValidationErrors"] == []
    public = sm.validate_resource_policy(ResourcePolicy=PUBLIC)
    assert public["PolicyValidationPassed"] is False
    assert len(public["ValidationErrors"]) == 1

"""CreateSecret, DescribeSecret, UpdateSecret, DeleteSecret and RestoreSecret."""

import re
import uuid
from datetime import datetime, timedelta, timezone

from conftest import ACCOUNT, INVALID_NAME, MARKED, NOT_FOUND, REGION, expect_error, make_kms, token

ARN_SUFFIX = r"-[A-Za-z0-9]{6}"


def arn_pattern(name, region=REGION, account=ACCOUNT):
    return re.compile(rf"arn:aws:secretsmanager:{region}:{account}:secret:{re.escape(name)}{ARN_SUFFIX}")


def near(when, expected, slack=timedelta(minutes=2)):
    return abs(when - expected) <= slack


# --- CreateSecret -------------------------------------------------------------------------------


def test_create_string_secret(sm, name):
    n, t = name(), token()
    out = sm.create_secret(Name=n, SecretString="s3cr3t", ClientRequestToken=t)
    assert arn_pattern(n).fullmatch(out["ARN"])
    assert out["Name"] == n
    assert out["VersionId"] == t
    assert set(out) == {"ARN", "Name", "VersionId", "ResponseMetadata"}


def test_create_without_value_has_no_version(sm, name):
    n = name()
    out = sm.create_secret(Name=n)
    assert "VersionId" not in out
    described = sm.describe_secret(SecretId=n)
    assert "VersionIdsToStages" not in described
    expect_error(
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
        sm.get_secret_value,
        SecretId=n,
    )


def test_create_existing_name(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="one")
    expect_error(
        "ResourceExistsException",
        f"The operation failed because the secret {n} already exists.",
        sm.create_secret,
        Name=n,
        SecretString="two",
    )


def test_create_same_token_same_value_is_idempotent(sm, name):
    n, t = name(), token()
    first = sm.create_secret(Name=n, SecretString="v", ClientRequestToken=t)
    again = sm.create_secret(Name=n, SecretString="v", ClientRequestToken=t)
    assert (again["ARN"], again["Name"], again["VersionId"]) == (first["ARN"], n, t)
    versions = sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True)["Versions"]
    assert [v["VersionId"] for v in versions] == [t]


def test_create_same_token_different_value(sm, name):
    n, t = name(), token()
    arn = sm.create_secret(Name=n, SecretString="v", ClientRequestToken=t)["ARN"]
    expect_error(
        "ResourceExistsException",
        f"You can't use ClientRequestToken {t} because that value is already in use for a version of secret {arn}.",
        sm.create_secret,
        Name=n,
        SecretString="other",
        ClientRequestToken=t,
    )


def test_create_invalid_name(sm):
    for bad in ["Inv Name", " Inv*Name? "]:
        expect_error("ValidationException", INVALID_NAME, sm.create_secret, Name=bad, SecretString="x")


def test_names_with_every_allowed_punctuation(sm, name):
    n = name() + "/_+=.@-x"
    out = sm.create_secret(Name=n, SecretString="x")
    assert arn_pattern(n).fullmatch(out["ARN"])
    assert sm.get_secret_value(SecretId=n)["Name"] == n


def test_create_with_both_values(sm, name):
    expect_error(
        "InvalidParameterException",
        "You can't specify both a binary secret value and a string secret value in the same secret.",
        sm.create_secret,
        Name=name(),
        SecretString="x",
        SecretBinary=b"x",
    )


def test_empty_description_is_not_returned(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x", Description="")
    assert "Description" not in sm.describe_secret(SecretId=n)


def test_create_with_invalid_kms_key(sm, name):
    expect_error(
        "InvalidParameterException",
        "The operation failed because of an invalid KMS key: Invalid keyId",
        sm.create_secret,
        Name=name(),
        SecretString="x",
        KmsKeyId="my-key",
    )


def test_customer_kms_key_is_described(sm, name):
    # The key must exist: the value is encrypted under it.
    kms = make_kms()
    alias = f"alias/compat-lifecycle-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    n = name()
    sm.create_secret(Name=n, SecretString="x", KmsKeyId=alias)
    assert sm.describe_secret(SecretId=n)["KmsKeyId"] == alias
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "x"


# --- DescribeSecret -----------------------------------------------------------------------------


def test_describe_new_secret(sm, name):
    n, t = name(), token()
    before = datetime.now(timezone.utc)
    arn = sm.create_secret(Name=n, SecretString="x", ClientRequestToken=t, Description="d")["ARN"]
    out = sm.describe_secret(SecretId=n)
    out.pop("ResponseMetadata")
    assert set(out) == {"ARN", "Name", "Description", "CreatedDate", "LastChangedDate", "VersionIdsToStages"}
    assert out["ARN"] == arn
    assert out["Name"] == n
    assert out["Description"] == "d"
    assert out["VersionIdsToStages"] == {t: ["AWSCURRENT"]}
    assert near(out["CreatedDate"], before)
    assert near(out["LastChangedDate"], before)


def test_last_accessed_date_is_midnight_utc(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    assert "LastAccessedDate" not in sm.describe_secret(SecretId=n)
    sm.get_secret_value(SecretId=n)
    accessed = sm.describe_secret(SecretId=n)["LastAccessedDate"]
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    # A run that straddles midnight may see yesterday.
    assert accessed in (today, today - timedelta(days=1)), accessed


def test_describe_unknown_secret(sm, name):
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.describe_secret, SecretId=name())


def test_describe_invalid_secret_id(sm):
    expect_error("ValidationException", INVALID_NAME, sm.describe_secret, SecretId="Inv Name")


# --- UpdateSecret -------------------------------------------------------------------------------


def test_update_description_only_makes_no_version(sm, name):
    n, t = name(), token()
    sm.create_secret(Name=n, SecretString="x", ClientRequestToken=t)
    out = sm.update_secret(SecretId=n, Description="new words")
    assert "VersionId" not in out
    described = sm.describe_secret(SecretId=n)
    assert described["Description"] == "new words"
    assert described["VersionIdsToStages"] == {t: ["AWSCURRENT"]}


def test_update_value_makes_a_new_current(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    out = sm.update_secret(SecretId=n, SecretString="two", ClientRequestToken=t2)
    assert out["VersionId"] == t2
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "two"
    assert sm.describe_secret(SecretId=n)["VersionIdsToStages"] == {t1: ["AWSPREVIOUS"], t2: ["AWSCURRENT"]}


def test_update_same_token_same_value(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    sm.update_secret(SecretId=n, SecretString="two", ClientRequestToken=t2)
    again = sm.update_secret(SecretId=n, SecretString="two", ClientRequestToken=t2)
    assert again["VersionId"] == t2
    versions = sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted([t1, t2])


def test_update_same_token_different_value(sm, name):
    n, t = name(), token()
    arn = sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t)["ARN"]
    expect_error(
        "ResourceExistsException",
        f"You can't use ClientRequestToken {t} because that value is already in use for a version of secret {arn}.",
        sm.update_secret,
        SecretId=n,
        SecretString="two",
        ClientRequestToken=t,
    )


def test_update_with_invalid_kms_key(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    expect_error(
        "InvalidParameterException",
        "The operation failed because of an invalid KMS key: Invalid keyId",
        sm.update_secret,
        SecretId=n,
        KmsKeyId="not-a-key",
    )


def test_update_unknown_secret(sm, name):
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.update_secret, SecretId=name(), SecretString="x")


def test_update_bumps_last_changed_date(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    first = sm.describe_secret(SecretId=n)["LastChangedDate"]
    sm.update_secret(SecretId=n, SecretString="x")  # the same value under a new token
    second = sm.describe_secret(SecretId=n)
    assert second["LastChangedDate"] >= first
    assert len(second["VersionIdsToStages"]) == 2


# --- DeleteSecret and RestoreSecret -------------------------------------------------------------


def test_delete_schedules_with_default_window(sm, name):
    n = name()
    arn = sm.create_secret(Name=n, SecretString="x")["ARN"]
    now = datetime.now(timezone.utc)
    out = sm.delete_secret(SecretId=n)
    assert (out["ARN"], out["Name"]) == (arn, n)
    assert near(out["DeletionDate"], now + timedelta(days=30))
    described = sm.describe_secret(SecretId=n)
    # DeletedDate is when DeleteSecret was called (the spec's recommendation; unconfirmed on AWS).
    assert near(described["DeletedDate"], now)


def test_delete_with_recovery_window(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    now = datetime.now(timezone.utc)
    out = sm.delete_secret(SecretId=n, RecoveryWindowInDays=7)
    assert near(out["DeletionDate"], now + timedelta(days=7))


def test_recovery_window_out_of_range(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    message = "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
    for days in (6, 31):
        expect_error("InvalidParameterException", message, sm.delete_secret, SecretId=n, RecoveryWindowInDays=days)
    # The range is checked before the "both parameters" rule.
    expect_error(
        "InvalidParameterException",
        message,
        sm.delete_secret,
        SecretId=n,
        RecoveryWindowInDays=0,
        ForceDeleteWithoutRecovery=True,
    )
    assert "DeletedDate" not in sm.describe_secret(SecretId=n)


def test_recovery_window_with_force(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    expect_error(
        "InvalidParameterException",
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        sm.delete_secret,
        SecretId=n,
        RecoveryWindowInDays=7,
        ForceDeleteWithoutRecovery=True,
    )


def test_operations_on_a_secret_marked_for_deletion(sm, name):
    n, t = name(), token()
    sm.create_secret(Name=n, SecretString="x", ClientRequestToken=t)
    sm.delete_secret(SecretId=n)
    expect_error("InvalidRequestException", MARKED, sm.get_secret_value, SecretId=n)
    expect_error("InvalidRequestException", MARKED, sm.put_secret_value, SecretId=n, SecretString="y")
    expect_error("InvalidRequestException", MARKED, sm.update_secret, SecretId=n, Description="d")
    expect_error("InvalidRequestException", MARKED, sm.tag_resource, SecretId=n, Tags=[{"Key": "k", "Value": "v"}])
    expect_error("InvalidRequestException", MARKED, sm.untag_resource, SecretId=n, TagKeys=["k"])
    expect_error(
        "InvalidRequestException",
        MARKED,
        sm.update_secret_version_stage,
        SecretId=n,
        VersionStage="custom",
        MoveToVersionId=t,
    )


def test_create_name_scheduled_for_deletion(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    sm.delete_secret(SecretId=n)
    expect_error(
        "InvalidRequestException",
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
        sm.create_secret,
        Name=n,
        SecretString="y",
    )


def test_delete_twice(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    sm.delete_secret(SecretId=n)
    # AWS's text here is unconfirmed; this is the one the spec recommends.
    expect_error(
        "InvalidRequestException",
        "You tried to perform the operation on a secret that's currently marked deleted.",
        sm.delete_secret,
        SecretId=n,
    )
    # A forced delete of a secret already scheduled for deletion succeeds.
    out = sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)
    assert out["Name"] == n
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.describe_secret, SecretId=n)


def test_restore(sm, name):
    n = name()
    arn = sm.create_secret(Name=n, SecretString="x")["ARN"]
    sm.delete_secret(SecretId=n)
    out = sm.restore_secret(SecretId=n)
    assert (out["ARN"], out["Name"]) == (arn, n)
    assert set(out) == {"ARN", "Name", "ResponseMetadata"}
    assert "DeletedDate" not in sm.describe_secret(SecretId=n)
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "x"


def test_restore_unknown_secret(sm, name):
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.restore_secret, SecretId=name())


def test_delete_unknown_secret(sm, name):
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.delete_secret, SecretId=name())


def test_force_delete(sm, name):
    n = name()
    arn = sm.create_secret(Name=n, SecretString="x")["ARN"]
    now = datetime.now(timezone.utc)
    out = sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)
    assert (out["ARN"], out["Name"]) == (arn, n)
    assert near(out["DeletionDate"], now)
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.describe_secret, SecretId=n)
    # The name is free again, under a new ARN suffix.
    again = sm.create_secret(Name=n, SecretString="y")["ARN"]
    assert arn_pattern(n).fullmatch(again)
    assert again != arn


def test_force_delete_of_a_missing_secret_succeeds(sm, name):
    n = name()
    out = sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)
    assert out["Name"] == n
    assert out["ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{n}")
    assert "DeletionDate" in out


def test_deleted_secrets_are_listed_only_on_request(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    sm.delete_secret(SecretId=n)
    name_filter = [{"Key": "name", "Values": [n]}]
    assert sm.list_secrets(Filters=name_filter)["SecretList"] == []
    listed = sm.list_secrets(Filters=name_filter, IncludePlannedDeletion=True)["SecretList"]
    assert [s["Name"] for s in listed] == [n]
    assert "DeletedDate" in listed[0]


def test_create_again_without_a_value(sm, name):
    n, t = name(), token()
    sm.create_secret(Name=n, ClientRequestToken=t)
    expect_error(
        "ResourceExistsException",
        f"The operation failed because the secret {n} already exists.",
        sm.create_secret,
        Name=n,
        ClientRequestToken=t,
    )


def test_raw_update_of_the_description_needs_no_token(raw, sm, name):
    # Only a new value needs a ClientRequestToken (AWS's answer here is unconfirmed).
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    response = raw.call("UpdateSecret", {"SecretId": n, "Description": "raw"})
    assert response.status == 200, response.body
    assert "VersionId" not in response.json()
    assert sm.describe_secret(SecretId=n)["Description"] == "raw"

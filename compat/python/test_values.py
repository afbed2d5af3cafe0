"""GetSecretValue, PutSecretValue, UpdateSecretVersionStage, ListSecretVersionIds,
BatchGetSecretValue, and how a SecretId is resolved."""

import base64
import re

from conftest import INVALID_NAME, NOT_FOUND, expect_error, token


def stages_of(sm, secret_id):
    """VersionIdsToStages with every label list sorted (AWS's order inside a list is unconfirmed)."""
    described = sm.describe_secret(SecretId=secret_id)
    return {vid: sorted(labels) for vid, labels in described.get("VersionIdsToStages", {}).items()}


def token_in_use(t, arn):
    return f"You can't use ClientRequestToken {t} because that value is already in use for a version of secret {arn}."


# --- SecretId resolution ------------------------------------------------------------------------


def test_get_by_name_full_arn_and_partial_arn(sm, name):
    n = name()
    arn = sm.create_secret(Name=n, SecretString="v")["ARN"]
    partial = arn[:-7]
    for secret_id in (n, arn, partial):
        out = sm.get_secret_value(SecretId=secret_id)
        assert (out["ARN"], out["Name"], out["SecretString"]) == (arn, n, "v"), secret_id
        assert sm.describe_secret(SecretId=secret_id)["ARN"] == arn


def test_name_with_suffix_is_not_an_identifier(sm, name):
    n = name()
    arn = sm.create_secret(Name=n, SecretString="v")["ARN"]
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.get_secret_value, SecretId=arn.split(":")[-1])


def test_full_arn_with_wrong_suffix(sm, name):
    n = name()
    arn = sm.create_secret(Name=n, SecretString="v")["ARN"]
    wrong = arn[:-6] + ("AAAAAA" if not arn.endswith("AAAAAA") else "BBBBBB")
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.get_secret_value, SecretId=wrong)


def test_partial_arn_that_looks_like_a_full_arn(sm, name):
    # A name ending in "-" plus six characters makes its partial ARN read as a full one.
    n = name() + "-a1b2c3"
    arn = sm.create_secret(Name=n, SecretString="v")["ARN"]
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.get_secret_value, SecretId=arn[:-7])
    assert sm.get_secret_value(SecretId=arn)["Name"] == n


def test_invalid_secret_id_is_rejected_before_lookup(sm):
    for call in (sm.get_secret_value, sm.list_secret_version_ids, sm.describe_secret):
        expect_error("ValidationException", INVALID_NAME, call, SecretId=" Inv*Name? ")
    expect_error("ValidationException", INVALID_NAME, sm.put_secret_value, SecretId="Inv Name", SecretString="x")
    expect_error(
        "ValidationException", INVALID_NAME, sm.delete_secret, SecretId="Inv Name", ForceDeleteWithoutRecovery=True
    )


# --- GetSecretValue -----------------------------------------------------------------------------


def test_get_secret_value_shape(sm, name):
    n, t = name(), token()
    arn = sm.create_secret(Name=n, SecretString='{"user":"app"}', ClientRequestToken=t)["ARN"]
    out = sm.get_secret_value(SecretId=n)
    out.pop("ResponseMetadata")
    assert set(out) == {"ARN", "Name", "VersionId", "SecretString", "VersionStages", "CreatedDate"}
    assert out["ARN"] == arn
    assert out["VersionId"] == t
    assert out["SecretString"] == '{"user":"app"}'
    assert out["VersionStages"] == ["AWSCURRENT"]


def test_get_unknown_secret(sm, name):
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.get_secret_value, SecretId=name())


def test_get_unknown_version_and_stage(sm, name):
    n, t = name(), token()
    sm.create_secret(Name=n, SecretString="v", ClientRequestToken=t)
    missing = token()
    expect_error(
        "ResourceNotFoundException",
        f"Secrets Manager can't find the specified secret value for VersionId: {missing}",
        sm.get_secret_value,
        SecretId=n,
        VersionId=missing,
    )
    expect_error(
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: NOPE",
        sm.get_secret_value,
        SecretId=n,
        VersionStage="NOPE",
    )
    expect_error(
        "InvalidRequestException",
        "You provided a VersionStage that is not associated to the provided VersionId.",
        sm.get_secret_value,
        SecretId=n,
        VersionId=t,
        VersionStage="AWSPREVIOUS",
    )


def test_get_by_version_id_and_stage(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2)
    assert sm.get_secret_value(SecretId=n, VersionId=t1)["SecretString"] == "one"
    assert sm.get_secret_value(SecretId=n, VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    both = sm.get_secret_value(SecretId=n, VersionId=t2, VersionStage="AWSCURRENT")
    assert (both["SecretString"], both["VersionStages"]) == ("two", ["AWSCURRENT"])


# --- binary secrets -----------------------------------------------------------------------------


def test_binary_secret_round_trip(sm, name, raw):
    n = name()
    data = bytes(range(256))
    sm.create_secret(Name=n, SecretBinary=data)
    out = sm.get_secret_value(SecretId=n)
    assert out["SecretBinary"] == data
    assert "SecretString" not in out
    # On the wire the blob is standard base64 with padding.
    body = raw.call("GetSecretValue", {"SecretId": n}).json()
    assert body["SecretBinary"] == base64.b64encode(data).decode()
    sm.put_secret_value(SecretId=n, SecretBinary=b"footest")
    assert raw.call("GetSecretValue", {"SecretId": n}).json()["SecretBinary"] == "Zm9vdGVzdA=="
    assert sm.get_secret_value(SecretId=n, VersionStage="AWSPREVIOUS")["SecretBinary"] == data


# --- PutSecretValue -----------------------------------------------------------------------------


def test_put_without_stages_moves_current_and_previous(sm, name):
    n, t1, t2, t3 = name(), token(), token(), token()
    arn = sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)["ARN"]
    out = sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2)
    out.pop("ResponseMetadata")
    assert out == {"ARN": arn, "Name": n, "VersionId": t2, "VersionStages": ["AWSCURRENT"]}
    assert stages_of(sm, n) == {t1: ["AWSPREVIOUS"], t2: ["AWSCURRENT"]}
    sm.put_secret_value(SecretId=n, SecretString="three", ClientRequestToken=t3)
    assert stages_of(sm, n) == {t2: ["AWSPREVIOUS"], t3: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "three"


def test_put_on_a_secret_without_versions(sm, name):
    n, t = name(), token()
    sm.create_secret(Name=n)
    out = sm.put_secret_value(SecretId=n, SecretString="first", ClientRequestToken=t)
    assert out["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "first"


def test_put_with_pending_stage_leaves_current(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    out = sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2, VersionStages=["AWSPENDING"])
    assert out["VersionStages"] == ["AWSPENDING"]
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "one"
    assert sm.get_secret_value(SecretId=n, VersionStage="AWSPENDING")["SecretString"] == "two"
    assert stages_of(sm, n) == {t1: ["AWSCURRENT"], t2: ["AWSPENDING"]}


def test_put_with_custom_stages_takes_them_from_other_versions(sm, name):
    n, t1, t2, t3 = name(), token(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2, VersionStages=["one", "two", "three"])
    sm.put_secret_value(SecretId=n, SecretString="three", ClientRequestToken=t3, VersionStages=["four", "one", "two"])
    assert stages_of(sm, n) == {t1: ["AWSCURRENT"], t2: ["three"], t3: ["four", "one", "two"]}


def test_put_listing_current_demotes_the_old_current(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    out = sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2, VersionStages=["AWSCURRENT", "PUT0"])
    assert sorted(out["VersionStages"]) == ["AWSCURRENT", "PUT0"]
    assert stages_of(sm, n) == {t1: ["AWSPREVIOUS"], t2: ["AWSCURRENT", "PUT0"]}


def test_put_same_token_same_value(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    first = sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2)
    again = sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2)
    assert (again["VersionId"], again["VersionStages"]) == (first["VersionId"], ["AWSCURRENT"])
    versions = sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted([t1, t2])
    assert stages_of(sm, n) == {t1: ["AWSPREVIOUS"], t2: ["AWSCURRENT"]}


def test_put_same_token_different_value(sm, name):
    n, t = name(), token()
    arn = sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t)["ARN"]
    expect_error(
        "ResourceExistsException",
        token_in_use(t, arn),
        sm.put_secret_value,
        SecretId=n,
        SecretString="two",
        ClientRequestToken=t,
    )
    # Binary bytes equal to the string still count as a different value (spec §6, unconfirmed).
    expect_error(
        "ResourceExistsException",
        token_in_use(t, arn),
        sm.put_secret_value,
        SecretId=n,
        SecretBinary=b"one",
        ClientRequestToken=t,
    )


def test_put_errors(sm, name):
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.put_secret_value, SecretId=name(), SecretString="x")
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    expect_error(
        "InvalidRequestException",
        "You must provide either SecretString or SecretBinary.",
        sm.put_secret_value,
        SecretId=n,
    )
    expect_error(
        "InvalidParameterException",
        "You can't specify both a binary secret value and a string secret value in the same secret.",
        sm.put_secret_value,
        SecretId=n,
        SecretString="x",
        SecretBinary=b"x",
    )


# --- UpdateSecretVersionStage -------------------------------------------------------------------


def test_move_current_with_update_secret_version_stage(sm, name):
    n, t1, t2 = name(), token(), token()
    arn = sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)["ARN"]
    sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2, VersionStages=["AWSPENDING"])
    out = sm.update_secret_version_stage(SecretId=n, VersionStage="AWSCURRENT", RemoveFromVersionId=t1, MoveToVersionId=t2)
    out.pop("ResponseMetadata")
    assert out == {"ARN": arn, "Name": n}
    # Other labels on both versions stay; the old current gets AWSPREVIOUS.
    assert stages_of(sm, n) == {t1: ["AWSPREVIOUS"], t2: ["AWSCURRENT", "AWSPENDING"]}
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "two"


def test_moving_current_keeps_custom_labels(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2, VersionStages=["c2"])
    sm.update_secret_version_stage(SecretId=n, VersionStage="c1", MoveToVersionId=t1)
    sm.update_secret_version_stage(SecretId=n, VersionStage="AWSCURRENT", RemoveFromVersionId=t1, MoveToVersionId=t2)
    assert stages_of(sm, n) == {t1: ["AWSPREVIOUS", "c1"], t2: ["AWSCURRENT", "c2"]}


def test_move_current_without_remove_from(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2, VersionStages=["AWSPENDING"])
    expect_error(
        "InvalidParameterException",
        f"The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to "
        f"version {t1}, so you must explicitly reference that version in RemoveFromVersionId.",
        sm.update_secret_version_stage,
        SecretId=n,
        VersionStage="AWSCURRENT",
        MoveToVersionId=t2,
    )
    assert stages_of(sm, n) == {t1: ["AWSCURRENT"], t2: ["AWSPENDING"]}


def test_attach_and_detach_a_custom_label(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)
    sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2)
    sm.update_secret_version_stage(SecretId=n, VersionStage="blue", MoveToVersionId=t1)
    assert stages_of(sm, n) == {t1: ["AWSPREVIOUS", "blue"], t2: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=n, VersionStage="blue")["SecretString"] == "one"
    sm.update_secret_version_stage(SecretId=n, VersionStage="blue", RemoveFromVersionId=t1)
    assert stages_of(sm, n) == {t1: ["AWSPREVIOUS"], t2: ["AWSCURRENT"]}


def test_update_secret_version_stage_unknown_secret(sm, name):
    expect_error(
        "ResourceNotFoundException",
        NOT_FOUND,
        sm.update_secret_version_stage,
        SecretId=name(),
        VersionStage="AWSCURRENT",
        MoveToVersionId=token(),
    )


# --- ListSecretVersionIds -----------------------------------------------------------------------


def test_list_secret_version_ids(sm, name):
    n, t1, t2, t3 = name(), token(), token(), token()
    arn = sm.create_secret(Name=n, SecretString="one", ClientRequestToken=t1)["ARN"]
    sm.put_secret_value(SecretId=n, SecretString="two", ClientRequestToken=t2)
    sm.put_secret_value(SecretId=n, SecretString="three", ClientRequestToken=t3)
    out = sm.list_secret_version_ids(SecretId=n)
    assert (out["ARN"], out["Name"]) == (arn, n)
    assert "NextToken" not in out
    listed = {v["VersionId"]: v for v in out["Versions"]}
    assert set(listed) == {t2, t3}, "deprecated versions are hidden by default"
    assert listed[t3]["VersionStages"] == ["AWSCURRENT"]
    assert listed[t2]["VersionStages"] == ["AWSPREVIOUS"]
    for entry in listed.values():
        assert entry["KmsKeyIds"] == ["DefaultEncryptionKey"]
        assert "CreatedDate" in entry

    everything = sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True)["Versions"]
    by_id = {v["VersionId"]: v for v in everything}
    assert set(by_id) == {t1, t2, t3}
    # A deprecated version carries no VersionStages key at all.
    assert "VersionStages" not in by_id[t1]


def test_list_secret_version_ids_pages(sm, name):
    n = name()
    tokens = [token() for _ in range(4)]
    sm.create_secret(Name=n, SecretString="0", ClientRequestToken=tokens[0])
    for i, t in enumerate(tokens[1:], 1):
        sm.put_secret_value(SecretId=n, SecretString=str(i), ClientRequestToken=t)
    seen, kwargs, pages = [], {}, 0
    while True:
        page = sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True, MaxResults=3, **kwargs)
        pages += 1
        assert len(page["Versions"]) <= 3
        seen += [v["VersionId"] for v in page["Versions"]]
        if "NextToken" not in page:
            break
        kwargs = {"NextToken": page["NextToken"]}
    assert pages == 2
    assert sorted(seen) == sorted(tokens)


def test_list_secret_version_ids_unknown_secret(sm, name):
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.list_secret_version_ids, SecretId=name())


# --- BatchGetSecretValue ------------------------------------------------------------------------


def test_batch_get_secret_value_by_id(sm, name):
    a, b, missing = name(), name(), name()
    arn_a = sm.create_secret(Name=a, SecretString="A")["ARN"]
    sm.create_secret(Name=b, SecretBinary=b"B")
    out = sm.batch_get_secret_value(SecretIdList=[a, b, missing])
    values = {v["Name"]: v for v in out["SecretValues"]}
    assert values[a]["SecretString"] == "A"
    assert values[a]["ARN"] == arn_a
    assert values[a]["VersionStages"] == ["AWSCURRENT"]
    assert values[b]["SecretBinary"] == b"B"
    assert out["Errors"] == [{"SecretId": missing, "ErrorCode": "ResourceNotFoundException", "Message": NOT_FOUND}]


def test_batch_get_secret_value_by_filter(sm, name):
    a, b = name(), name()
    sm.create_secret(Name=a, SecretString="A")
    sm.create_secret(Name=b, SecretString="B")
    out = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [a]}])
    assert [v["SecretString"] for v in out["SecretValues"]] == ["A"]


def test_batch_get_secret_value_needs_exactly_one_selector(sm, name):
    message = "Either 'SecretIdList' or 'Filters' must be provided, but not both."
    expect_error("InvalidParameterException", message, sm.batch_get_secret_value)
    expect_error(
        "InvalidParameterException",
        message,
        sm.batch_get_secret_value,
        SecretIdList=[name()],
        Filters=[{"Key": "name", "Values": ["x"]}],
    )


def test_version_ids_are_client_request_tokens(sm, name):
    n = name()
    out = sm.create_secret(Name=n, SecretString="x")
    # boto3 fills ClientRequestToken with a UUID of its own.
    assert re.fullmatch(r"[0-9a-f-]{36}", out["VersionId"])


def test_rolling_back_current_to_previous(sm, name):
    n, t1, t2 = name(), token(), token()
    sm.create_secret(Name=n, SecretString="good", ClientRequestToken=t1)
    sm.put_secret_value(SecretId=n, SecretString="bad", ClientRequestToken=t2)
    sm.update_secret_version_stage(SecretId=n, VersionStage="AWSCURRENT", RemoveFromVersionId=t2, MoveToVersionId=t1)
    assert stages_of(sm, n) == {t1: ["AWSCURRENT"], t2: ["AWSPREVIOUS"]}
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "good"


def test_tokens_belong_to_one_secret(sm, name):
    a, b, t = name(), name(), token()
    sm.create_secret(Name=a, SecretString="a", ClientRequestToken=t)
    # The same token on another secret is a new version there, not a conflict.
    assert sm.create_secret(Name=b, SecretString="b", ClientRequestToken=t)["VersionId"] == t
    assert sm.get_secret_value(SecretId=b, VersionId=t)["SecretString"] == "b"


def test_put_changes_last_changed_date_and_reads_set_last_accessed(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="one")
    before = sm.describe_secret(SecretId=n)["LastChangedDate"]
    t = sm.put_secret_value(SecretId=n, SecretString="two")["VersionId"]
    assert sm.describe_secret(SecretId=n)["LastChangedDate"] >= before
    sm.get_secret_value(SecretId=n)
    versions = {v["VersionId"]: v for v in sm.list_secret_version_ids(SecretId=n)["Versions"]}
    assert "LastAccessedDate" in versions[t]
    assert all("LastAccessedDate" not in v for vid, v in versions.items() if vid != t)


def test_version_list_pages_end_without_a_token(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="0")
    for i in range(1, 4):
        sm.put_secret_value(SecretId=n, SecretString=str(i))
    first = sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True, MaxResults=2)
    second = sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True, MaxResults=2, NextToken=first["NextToken"])
    assert len(second["Versions"]) == 2
    assert "NextToken" not in second, "a NextToken only when more versions exist"


def test_oversized_secret_binary(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretBinary=b"\x01" * 65536)
    expect_error(
        "ValidationException",
        "1 validation error detected: Value at 'secretBinary' failed to satisfy constraint: "
        "Member must have length less than or equal to 65536",
        sm.put_secret_value,
        SecretId=n,
        SecretBinary=b"\x01" * 65537,
    )


def test_batch_get_secret_value_errors(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    sm.delete_secret(SecretId=n)
    out = sm.batch_get_secret_value(SecretIdList=[n])
    assert out["SecretValues"] == []
    # The entry carries what GetSecretValue would have answered.
    assert out["Errors"] == [
        {
            "SecretId": n,
            "ErrorCode": "InvalidRequestException",
            "Message": "You can't perform this operation on the secret because it was marked for deletion.",
        }
    ]
    expect_error(
        "InvalidParameterException",
        "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.",
        sm.batch_get_secret_value,
        SecretIdList=[n],
        MaxResults=5,
    )

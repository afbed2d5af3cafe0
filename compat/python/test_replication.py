"""Replication through boto3: replicas in other Regions kept in step with their primary, the
guards on both sides, promotion, the faults a test injects, and cross-account replicas."""

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import NOT_FOUND, control_headers, endpoint, expect_error, make_client

REPLICA = "Operation not permitted on a replica secret. Call must be made in primary secret's region."
# A Region no other test replicates into, so its faults disturb nobody.
FAULTY = "ap-northeast-3"


def control(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(endpoint() + path, data=data, headers=control_headers(), method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def replica_status(sm, secret_id):
    (status,) = sm.describe_secret(SecretId=secret_id)["ReplicationStatus"]
    return status


def test_a_replica_follows_its_primary_and_refuses_writes(sm, name):
    west = make_client(region="eu-west-1")
    n = name()
    created = sm.create_secret(Name=n, SecretString="s1", AddReplicaRegions=[{"Region": "eu-west-1"}])
    assert created["ReplicationStatus"] == [
        {"Region": "eu-west-1", "KmsKeyId": "alias/aws/secretsmanager", "Status": "InProgress"}
    ]
    assert replica_status(sm, n) == {
        "Region": "eu-west-1",
        "KmsKeyId": "alias/aws/secretsmanager",
        "Status": "InSync",
        "StatusMessage": "Replication succeeded",
    }
    sm.put_secret_value(SecretId=n, SecretString="s2")
    sm.tag_resource(SecretId=n, Tags=[{"Key": "team", "Value": "core"}])
    replica = west.describe_secret(SecretId=n)
    assert replica["ARN"] == created["ARN"].replace(":us-east-1:", ":eu-west-1:")
    assert replica["PrimaryRegion"] == "us-east-1"
    assert "ReplicationStatus" not in replica
    assert replica["Tags"] == [{"Key": "team", "Value": "core"}]
    assert west.get_secret_value(SecretId=n)["SecretString"] == "s2"
    expect_error("InvalidParameterException", REPLICA, west.put_secret_value, SecretId=n, SecretString="x")
    expect_error("InvalidParameterException", REPLICA, west.delete_secret, SecretId=n)
    expect_error(
        "InvalidParameterException",
        f"You can't delete secret {created['ARN']} that still has replica regions [eu-west-1].",
        sm.delete_secret,
        SecretId=n,
    )
    removed = sm.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=["eu-west-1"])
    assert removed["ARN"] == created["ARN"] and removed["ReplicationStatus"] == []
    expect_error("ResourceNotFoundException", NOT_FOUND, west.describe_secret, SecretId=n)
    sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)


def test_stop_replication_makes_a_standalone_secret(sm, name):
    west = make_client(region="eu-west-1")
    n = name()
    arn = sm.create_secret(Name=n, SecretString="s1", AddReplicaRegions=[{"Region": "eu-west-1"}])["ARN"]
    stopped = west.stop_replication_to_replica(SecretId=n)
    assert stopped["ARN"] == arn.replace(":us-east-1:", ":eu-west-1:")
    west.put_secret_value(SecretId=n, SecretString="mine")
    assert "PrimaryRegion" not in west.describe_secret(SecretId=n)
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=n)
    west.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)
    sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)


def test_replication_guards(sm, name):
    n = name()
    expect_error(
        "InvalidParameterException",
        "Invalid replica region.",
        sm.create_secret,
        Name=n,
        SecretString="v",
        AddReplicaRegions=[{"Region": "us-east-1"}],
    )
    west = make_client(region="eu-west-1")
    west.create_secret(Name=n, SecretString="local")
    sm.create_secret(Name=n, SecretString="v", AddReplicaRegions=[{"Region": "eu-west-1"}])
    status = replica_status(sm, n)
    assert status["Status"] == "Failed"
    assert status["StatusMessage"] == "Secret with this name already exists in this region"
    sm.replicate_secret_to_regions(
        SecretId=n, AddReplicaRegions=[{"Region": "eu-west-1"}], ForceOverwriteReplicaSecret=True
    )
    assert replica_status(sm, n)["Status"] == "InSync"
    assert west.get_secret_value(SecretId=n)["SecretString"] == "v"
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [n]}, {"Key": "primary-region", "Values": ["us-"]}])
    assert [(s["Name"], s["PrimaryRegion"]) for s in listed["SecretList"]] == [(n, "us-east-1")]
    sm.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=["eu-west-1"])
    sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)


def test_a_faulty_region_fails_and_catches_up(sm, name):
    faulty = make_client(region=FAULTY)
    n = name()
    sm.create_secret(Name=n, SecretString="s1", AddReplicaRegions=[{"Region": FAULTY}])
    try:
        control("POST", "/_smemu/faults", {"region": FAULTY, "fail": "Region unreachable"})
        assert replica_status(sm, n)["Status"] == "Failed"
        assert replica_status(sm, n)["StatusMessage"] == "Region unreachable"
        sm.put_secret_value(SecretId=n, SecretString="s2")
        assert faulty.get_secret_value(SecretId=n)["SecretString"] == "s1"
    finally:
        control("DELETE", f"/_smemu/faults?region={FAULTY}")
    assert replica_status(sm, n)["Status"] == "InSync"
    assert faulty.get_secret_value(SecretId=n)["SecretString"] == "s2"
    sm.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=[FAULTY])
    sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)


def test_a_lagging_region_reads_in_progress_until_the_fault_is_cleared(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="s1", AddReplicaRegions=[{"Region": FAULTY}])
    try:
        control("POST", "/_smemu/faults", {"region": FAULTY, "lag": "1h"})
        sm.put_secret_value(SecretId=n, SecretString="s2")
        assert replica_status(sm, n) == {"Region": FAULTY, "KmsKeyId": "alias/aws/secretsmanager", "Status": "InProgress"}
    finally:
        control("DELETE", "/_smemu/faults")
    assert replica_status(sm, n)["Status"] == "InSync"
    assert make_client(region=FAULTY).get_secret_value(SecretId=n)["SecretString"] == "s2"
    sm.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=[FAULTY])


def test_cross_account_replica(name):
    primary_side = make_client(access_key="111111111111")
    replica_side = make_client(access_key="222222222222")
    if not hasattr(replica_side, "associate_cross_account_replica"):
        pytest.skip("this botocore predates cross-account replication")
    kms = make_kms("222222222222")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    n = name()
    primary = primary_side.create_secret(Name=n, SecretString="s1")["ARN"]
    replica = replica_side.create_secret(Name=n, CrossAccountPrimaryARN=primary, KmsKeyId=key)["ARN"]
    assert replica_side.describe_secret(SecretId=n)["CrossAccountPrimary"]["ReplicationStatus"] == "Pending"
    out = primary_side.associate_cross_account_replica(SecretId=n, CrossAccountReplicaARN=replica)
    assert (out["ARN"], out["CrossAccountReplicaARN"]) == (primary, replica)
    entries = primary_side.describe_secret(SecretId=n)["CrossAccountReplicas"]
    assert [(e["ReplicaSecretARN"], e["ReplicationStatus"]) for e in entries] == [(replica, "InSync")]
    primary_side.put_secret_value(SecretId=n, SecretString="s2")
    assert replica_side.get_secret_value(SecretId=n)["SecretString"] == "s2"
    with pytest.raises(ClientError) as refused:
        replica_side.put_secret_value(SecretId=n, SecretString="x")
    assert refused.value.response["Error"]["Message"] == REPLICA
    primary_side.disassociate_cross_account_replica(SecretId=n, CrossAccountReplicaARN=replica)
    assert replica_side.describe_secret(SecretId=n)["CrossAccountPrimary"]["ReplicationStatus"] == "Detached"
    replica_side.stop_replication_to_replica(SecretId=n)
    replica_side.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)
    primary_side.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)


def make_kms(access_key):
    import boto3
    from conftest import SECRET_KEY

    return boto3.client(
        "kms",
        endpoint_url=endpoint(),
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=SECRET_KEY,
    )


def test_no_operation_is_not_implemented(raw):
    import botocore.session

    model = botocore.session.get_session().get_service_model("secretsmanager")
    for operation in model.operation_names:
        response = raw.call(operation, {"SecretId": "compat/py/none"})
        assert response.status != 501, operation
        assert response.json().get("__type") != "NotImplementedException", operation

"""CloudTrail's LookupEvents through boto3: the record of every call, in the account and region
of the caller. Each test calls as an account of its own (a 12-digit access key selects it), so
the events of other tests never show."""

import json
import random
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, SECRET_KEY, endpoint


def account():
    return "".join(random.choice("0123456789") for _ in range(12))


def clients(acct):
    settings = dict(
        endpoint_url=endpoint(),
        region_name=REGION,
        aws_access_key_id=acct,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    return boto3.client("secretsmanager", **settings), boto3.client("cloudtrail", **settings)


def lookup(trail, key, value):
    pages = trail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}]
    )
    return [event for page in pages for event in page["Events"]]


def test_reads_and_failed_reads_are_listed_newest_first_with_their_records():
    acct = account()
    sm, trail = clients(acct)
    name = f"compat-py-audit-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="py-audit-distinct-value")
    sm.get_secret_value(SecretId=name)
    with pytest.raises(ClientError):
        sm.get_secret_value(SecretId=name, VersionId="00000000-0000-4000-8000-000000000000")
    events = lookup(trail, "EventName", "GetSecretValue")
    assert len(events) == 2
    failed, read = (json.loads(e["CloudTrailEvent"]) for e in events)
    assert read["requestParameters"] == {"secretId": name}
    assert read["responseElements"] is None and read["readOnly"] is True
    assert read["userIdentity"]["accountId"] == acct and read["recipientAccountId"] == acct
    assert read["eventSource"] == "secretsmanager.amazonaws.com" and read["awsRegion"] == REGION
    assert failed["errorCode"] == "ResourceNotFoundException"
    assert events[1]["ReadOnly"] == "true" and events[1]["Username"] == "root"
    assert events[0]["EventTime"] >= events[1]["EventTime"]
    for event in lookup(trail, "ResourceName", name):
        assert "py-audit-distinct-value" not in event["CloudTrailEvent"]


def test_a_refusal_is_access_denied():
    sm, trail = clients(account())
    name = f"compat-py-audit-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name, RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:none")
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    (event,) = lookup(trail, "EventName", "RotateSecret")
    record = json.loads(event["CloudTrailEvent"])
    assert record["errorCode"] == "AccessDenied"
    assert record["errorMessage"] == raised.value.response["Error"]["Message"]


def test_pages_hold_max_results_and_tokens_are_bound_to_their_query():
    sm, trail = clients(account())
    for i in range(7):
        sm.list_secrets(MaxResults=1 + i)
    first = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListSecrets"}], MaxResults=3
    )
    assert len(first["Events"]) == 3 and "NextToken" in first
    rest = lookup(trail, "EventName", "ListSecrets")
    assert len(rest) == 7
    assert [json.loads(e["CloudTrailEvent"])["requestParameters"]["maxResults"] for e in rest] == list(range(7, 0, -1))
    with pytest.raises(ClientError) as raised:
        trail.lookup_events(MaxResults=3, NextToken=first["NextToken"])
    assert raised.value.response["Error"]["Code"] == "InvalidNextTokenException"
    with pytest.raises(ClientError) as raised:
        trail.lookup_events(MaxResults=51)
    assert raised.value.response["Error"]["Code"] == "InvalidMaxResultsException"

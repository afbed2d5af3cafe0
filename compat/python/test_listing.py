"""ListSecrets: filters, negation, sorting and pagination (boto3's own paginator)."""

import re
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import make_client

FILTER_KEYS = {"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}


@pytest.fixture(scope="module")
def catalogue():
    """Five secrets under a prefix of their own; filters below are ANDed with that prefix."""
    sm = make_client()
    u = uuid.uuid4().hex[:10]
    prefix = f"lst{u}/"
    team, owner = f"team{u}", f"owner{u}"
    specs = [
        ("alpha", "a secret", [{"Key": team, "Value": "red"}]),
        ("beta", "an secret", [{"Key": team, "Value": "blue"}]),
        ("gamma", "asecret", [{"Key": owner, "Value": "red"}]),
        ("delta", None, []),
        ("SecretOne", "one and two", []),
    ]
    for short, description, tags in specs:
        kwargs = {"Name": prefix + short, "SecretString": short}
        if description is not None:
            kwargs["Description"] = description
        if tags:
            kwargs["Tags"] = tags
        sm.create_secret(**kwargs)
    return {"sm": sm, "prefix": prefix, "team": team, "owner": owner, "order": [s[0] for s in specs]}


def listed(catalogue, *filters, **kwargs):
    """Short names of the catalogue's secrets that ListSecrets returns, in the order returned."""
    sm, prefix = catalogue["sm"], catalogue["prefix"]
    all_filters = [{"Key": "name", "Values": [prefix]}] + [{"Key": k, "Values": v} for k, v in filters]
    out = sm.list_secrets(Filters=all_filters, **kwargs)
    assert "NextToken" not in out
    return [s["Name"][len(prefix) :] for s in out["SecretList"]]


def test_name_prefix_lists_in_creation_order(catalogue):
    assert listed(catalogue) == catalogue["order"]


def test_name_filter_is_a_case_sensitive_prefix_of_the_whole_name(catalogue):
    p = catalogue["prefix"]
    assert listed(catalogue, ("name", [p + "al"])) == ["alpha"]
    assert listed(catalogue, ("name", ["alpha"])) == []
    assert listed(catalogue, ("name", [p.upper()])) == []


def test_repeated_filter_keys_are_anded(catalogue):
    assert listed(catalogue, ("name", [catalogue["prefix"] + "be"])) == ["beta"]


def test_description_filter_matches_word_prefixes(catalogue):
    assert listed(catalogue, ("description", ["a secret"])) == ["alpha", "beta"]
    assert listed(catalogue, ("description", ["A SECRET"])) == ["alpha", "beta"]
    assert listed(catalogue, ("description", ["one two"])) == ["SecretOne"]
    assert listed(catalogue, ("description", ["asec"])) == ["gamma"]


def test_tag_key_and_tag_value_filters(catalogue):
    team = catalogue["team"]
    assert listed(catalogue, ("tag-key", [team])) == ["alpha", "beta"]
    assert listed(catalogue, ("tag-key", [team[:4]])) == ["alpha", "beta"]
    assert listed(catalogue, ("tag-value", ["re"])) == ["alpha", "gamma"]
    assert listed(catalogue, ("tag-value", ["RED"])) == []


def test_all_filter(catalogue):
    assert listed(catalogue, ("all", ["alpha"])) == ["alpha"]
    assert listed(catalogue, ("all", ["red"])) == ["alpha", "gamma"]
    # Words of names split at case changes: "SecretOne" has the words "Secret" and "One".
    assert listed(catalogue, ("all", ["secret"])) == ["alpha", "beta", "SecretOne"]
    assert listed(catalogue, ("all", ["ret"])) == []


def test_negated_filters(catalogue):
    p = catalogue["prefix"]
    assert listed(catalogue, ("name", ["!" + p + "al"])) == ["beta", "gamma", "delta", "SecretOne"]
    assert listed(catalogue, ("tag-key", ["!" + catalogue["team"]])) == ["gamma", "delta", "SecretOne"]
    # Whether a secret without a description matches a negated description filter is unconfirmed.
    got = set(listed(catalogue, ("description", ["!secret"]))) - {"delta"}
    assert got == {"gamma", "SecretOne"}


def test_sorting(catalogue):
    order = catalogue["order"]
    assert listed(catalogue, SortOrder="desc") == order[::-1]
    assert listed(catalogue, SortBy="name") == sorted(order)
    assert listed(catalogue, SortBy="name", SortOrder="desc") == sorted(order, reverse=True)


def test_list_entry_shape(catalogue):
    sm, prefix = catalogue["sm"], catalogue["prefix"]
    out = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix + "alpha"]}])
    [entry] = out["SecretList"]
    assert set(entry) == {
        "ARN",
        "Name",
        "Description",
        "LastChangedDate",
        "CreatedDate",
        "Tags",
        "SecretVersionsToStages",
    }
    assert entry["Tags"] == [{"Key": catalogue["team"], "Value": "red"}]
    assert list(entry["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]


def test_unknown_filter_key(sm):
    with pytest.raises(ClientError) as caught:
        sm.list_secrets(Filters=[{"Key": "invalid", "Values": ["x"]}])
    response = caught.value.response
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The order of the enum values in the message is unconfirmed; the set is the model's.
    message = response["Error"]["Message"]
    match = re.fullmatch(
        r"1 validation error detected: Value 'invalid' at 'filters\.1\.member\.key' failed to satisfy "
        r"constraint: Member must satisfy enum value set: \[(.*)\]",
        message,
    )
    assert match, message
    assert set(match.group(1).split(", ")) == FILTER_KEYS


def test_invalid_next_token(sm):
    # AWS's text is unconfirmed; the code and status are checked.
    with pytest.raises(ClientError) as caught:
        sm.list_secrets(NextToken="not-a-token-smemu-ever-issued")
    response = caught.value.response
    assert response["Error"]["Code"] == "InvalidNextTokenException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_paginator_over_more_than_a_hundred_secrets(sm):
    prefix = f"pag{uuid.uuid4().hex[:10]}/"
    names = [f"{prefix}{i:03d}" for i in range(105)]
    for n in names:
        sm.create_secret(Name=n, SecretString=n)
    paginator = sm.get_paginator("list_secrets")
    name_filter = [{"Key": "name", "Values": [prefix]}]

    pages = list(paginator.paginate(Filters=name_filter))
    assert [len(p["SecretList"]) for p in pages] == [100, 5]
    assert [s["Name"] for p in pages for s in p["SecretList"]] == names

    pages = list(paginator.paginate(Filters=name_filter, PaginationConfig={"PageSize": 40}))
    assert [len(p["SecretList"]) for p in pages] == [40, 40, 25]
    assert [s["Name"] for p in pages for s in p["SecretList"]] == names

    everything = paginator.paginate(Filters=name_filter, PaginationConfig={"PageSize": 30}).build_full_result()
    assert [s["Name"] for s in everything["SecretList"]] == names
    assert "NextToken" not in everything


def test_secrets_manager_has_no_waiters(sm):
    # Recorded so that a waiter appearing in a newer botocore is noticed and tested.
    assert sm.waiter_names == []


def test_pages_end_without_a_token(catalogue):
    sm, prefix = catalogue["sm"], catalogue["prefix"]
    name_filter = [{"Key": "name", "Values": [prefix]}]
    first = sm.list_secrets(Filters=name_filter, MaxResults=4)
    assert len(first["SecretList"]) == 4
    last = sm.list_secrets(Filters=name_filter, MaxResults=1, NextToken=first["NextToken"])
    assert len(last["SecretList"]) == 1
    assert "NextToken" not in last, "a NextToken only when more secrets exist"

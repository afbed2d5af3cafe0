"""TagResource and UntagResource, and how DescribeSecret reports tags."""

from conftest import NOT_FOUND, expect_error


def tags_of(sm, secret_id):
    return sm.describe_secret(SecretId=secret_id).get("Tags")


def test_tags_upsert_in_insertion_order(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x", Tags=[{"Key": "tag1", "Value": "v1"}, {"Key": "tag2", "Value": "v2"}])
    assert tags_of(sm, n) == [{"Key": "tag1", "Value": "v1"}, {"Key": "tag2", "Value": "v2"}]
    out = sm.tag_resource(SecretId=n, Tags=[{"Key": "tag3", "Value": "v3"}, {"Key": "tag1", "Value": "new"}])
    assert set(out) == {"ResponseMetadata"}
    assert tags_of(sm, n) == [
        {"Key": "tag1", "Value": "new"},
        {"Key": "tag2", "Value": "v2"},
        {"Key": "tag3", "Value": "v3"},
    ]
    # Keys are case-sensitive.
    sm.tag_resource(SecretId=n, Tags=[{"Key": "TAG1", "Value": "upper"}])
    assert [t["Key"] for t in tags_of(sm, n)] == ["tag1", "tag2", "tag3", "TAG1"]


def test_untag_and_the_empty_tag_list(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    assert tags_of(sm, n) is None, "a never-tagged secret has no Tags key"
    sm.tag_resource(SecretId=n, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    out = sm.untag_resource(SecretId=n, TagKeys=["a", "missing-keys-are-ignored"])
    assert set(out) == {"ResponseMetadata"}
    assert tags_of(sm, n) == [{"Key": "b", "Value": "2"}]
    sm.untag_resource(SecretId=n, TagKeys=["b"])
    # Once a secret has had tags, removing the last one leaves "Tags": [].
    assert tags_of(sm, n) == []


def test_empty_tag_value(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x", Tags=[{"Key": "flag", "Value": ""}])
    assert tags_of(sm, n) == [{"Key": "flag", "Value": ""}]


def test_system_tags_are_refused(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    expect_error(
        "InvalidParameterException",
        "You can't modify system tags. Tag key: 'aws:cloudformation:stack-name'.",
        sm.tag_resource,
        SecretId=n,
        Tags=[{"Key": "aws:cloudformation:stack-name", "Value": "s"}],
    )
    assert tags_of(sm, n) is None


def test_tagging_an_unknown_secret(sm, name):
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.tag_resource, SecretId=name(), Tags=[{"Key": "k", "Value": "v"}])
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.untag_resource, SecretId=name(), TagKeys=["k"])


def test_tag_responses_have_an_empty_body(raw, sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    for op, body in (
        ("TagResource", {"SecretId": n, "Tags": [{"Key": "k", "Value": "v"}]}),
        ("UntagResource", {"SecretId": n, "TagKeys": ["k"]}),
    ):
        response = raw.call(op, body)
        assert response.status == 200, op
        assert response.body == b"", op
        assert response.headers.get("Content-Length") == "0", op
        assert response.request_id, op

"""KMS on the same endpoint: keys, aliases, encryption with a context, key states, deletion."""

import re
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, expect_error, make_kms


@pytest.fixture
def kms():
    return make_kms()


def alias_name(label):
    return f"alias/compat-py-{label}-{uuid.uuid4().hex[:8]}"


def test_create_describe_and_list_keys(kms):
    meta = kms.create_key(Description="compat")["KeyMetadata"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", meta["KeyId"])
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{meta['KeyId']}"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeySpec"] == meta["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT" and meta["KeyManager"] == "CUSTOMER"
    assert meta["Description"] == "compat"
    assert kms.describe_key(KeyId=meta["Arn"])["KeyMetadata"]["KeyId"] == meta["KeyId"]
    listed = [k["KeyId"] for page in kms.get_paginator("list_keys").paginate() for k in page["Keys"]]
    assert meta["KeyId"] in listed


def test_aliases_and_encryption_with_a_context(kms):
    key = kms.create_key()["KeyMetadata"]
    name = alias_name("app")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    sealed = kms.encrypt(KeyId=name, Plaintext=b"compat data", EncryptionContext={"app": "compat"})
    assert sealed["KeyId"] == key["Arn"]
    opened = kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={"app": "compat"})
    assert opened["Plaintext"] == b"compat data"
    assert opened["KeyId"] == key["Arn"]
    # A wrong context: InvalidCiphertextException, which AWS sends without a message.
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={"app": "other"})
    assert caught.value.response["Error"]["Code"] == "InvalidCiphertextException"
    assert caught.value.response["Error"].get("Message", "") == ""
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    data_key = kms.generate_data_key(KeyId=name, KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    aliases = [a["AliasName"] for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]]
    assert aliases == [name]
    expect_error(
        "ValidationException",
        'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html',
        kms.create_alias,
        AliasName="no-prefix",
        TargetKeyId=key["KeyId"],
    )
    expect_error(
        "AlreadyExistsException",
        f"An alias with the name arn:aws:kms:{REGION}:{ACCOUNT}:{name} already exists",
        kms.create_alias,
        AliasName=name,
        TargetKeyId=key["KeyId"],
    )


def test_unknown_keys(kms):
    missing = "134f2428-cec1-4b25-a1ae-9048164dba47"
    expect_error(
        "NotFoundException",
        f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist",
        kms.describe_key,
        KeyId=missing,
    )
    expect_error("NotFoundException", "Invalid keyId 'fake-key-id'", kms.describe_key, KeyId="fake-key-id")


def test_disable_enable_and_pending_deletion(kms):
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    expect_error("DisabledException", f"{key['Arn']} is disabled.", kms.decrypt, CiphertextBlob=blob)
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    expect_error(
        "ValidationException", "PendingWindowInDays must be between 7 and 30",
        kms.schedule_key_deletion, KeyId=key["KeyId"], PendingWindowInDays=3,
    )
    scheduled = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    expect_error("KMSInvalidStateException", f"{key['Arn']} is pending deletion.", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_the_deletion_window_ends_on_the_clock(private_smemu):
    kms = make_kms(private_smemu.endpoint)
    key = kms.create_key()["KeyMetadata"]
    name = alias_name("doomed")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    blob = kms.encrypt(KeyId=name, Plaintext=b"x")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    private_smemu.advance("7d")
    expect_error("NotFoundException", f"Key '{key['Arn']}' does not exist", kms.describe_key, KeyId=key["KeyId"])
    expect_error("NotFoundException", f"Key '{key['Arn']}' does not exist", kms.decrypt, CiphertextBlob=blob)
    assert kms.list_aliases()["Aliases"] == []

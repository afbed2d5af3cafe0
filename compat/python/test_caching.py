"""aws-secretsmanager-caching, AWS's client-side cache for Python, reading through smemu."""

import json

from aws_secretsmanager_caching import InjectKeywordedSecretString, SecretCache, SecretCacheConfig

from conftest import make_client


def test_cache_sees_a_new_value_after_refresh(name):
    client = make_client()
    n = name()
    client.create_secret(Name=n, SecretString="v1")
    cache = SecretCache(config=SecretCacheConfig(), client=client)
    assert cache.get_secret_string(n) == "v1"

    # A rotation-like change: a new AWSCURRENT version. (Once smemu serves RotateSecret, a test
    # of a real rotation belongs beside this one.)
    client.put_secret_value(SecretId=n, SecretString="v2")
    assert cache.get_secret_string(n) == "v1", "served from the cache until refreshed"
    assert cache.refresh_secret_now(n)
    assert cache.get_secret_string(n) == "v2"
    assert cache.get_secret_string(n, "AWSPREVIOUS") == "v1"


def test_cache_reads_binary_secrets(name):
    client = make_client()
    n = name()
    client.create_secret(Name=n, SecretBinary=b"\x00\x01binary")
    cache = SecretCache(config=SecretCacheConfig(), client=client)
    assert cache.get_secret_binary(n) == b"\x00\x01binary"


def test_keyworded_injection(name):
    client = make_client()
    n = name()
    client.create_secret(Name=n, SecretString=json.dumps({"username": "app", "password": "pw"}))
    cache = SecretCache(config=SecretCacheConfig(), client=client)

    @InjectKeywordedSecretString(secret_id=n, cache=cache, user="username", pwd="password")
    def connect(user, pwd):
        return user, pwd

    assert connect() == ("app", "pw")

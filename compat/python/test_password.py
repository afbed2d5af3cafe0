"""GetRandomPassword."""

import re
import string

from conftest import expect_error

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
CLASSES = [string.ascii_uppercase, string.ascii_lowercase, string.digits, PUNCTUATION]


def password(sm, **kwargs):
    out = sm.get_random_password(**kwargs)
    assert set(out) == {"RandomPassword", "ResponseMetadata"}
    return out["RandomPassword"]


def test_default_password(sm):
    for _ in range(20):
        p = password(sm)
        assert len(p) == 32
        assert set(p) <= set("".join(CLASSES))
        # RequireEachIncludedType defaults to true.
        for chars in CLASSES:
            assert set(p) & set(chars), (p, chars)


def test_passwords_differ(sm):
    assert len({password(sm) for _ in range(10)}) == 10


def test_length_and_excluded_characters(sm):
    excluded = set("xyzDje@?!.")
    for _ in range(10):
        p = password(sm, PasswordLength=120, ExcludeCharacters="xyzDje@?!.")
        assert len(p) == 120
        assert not set(p) & excluded


def test_excluded_classes(sm):
    p = password(sm, PasswordLength=200, ExcludeNumbers=True, ExcludePunctuation=True, ExcludeUppercase=True)
    assert set(p) <= set(string.ascii_lowercase)
    p = password(sm, PasswordLength=200, ExcludeLowercase=True, ExcludePunctuation=True)
    assert set(p) <= set(string.ascii_uppercase + string.digits)
    assert set(p) & set(string.digits) and set(p) & set(string.ascii_uppercase)


def test_include_space(sm):
    p = password(sm, PasswordLength=4096, IncludeSpace=True)
    assert len(p) == 4096
    assert set(p) <= set("".join(CLASSES) + " ")
    assert " " in p  # 4096 draws over 95 characters: a miss is practically impossible
    assert " " not in password(sm, PasswordLength=4096)


def test_shortest_password(sm):
    assert len(password(sm, PasswordLength=1, RequireEachIncludedType=False)) == 1


def test_too_short_for_the_required_types(sm):
    # Text reported by other emulators; AWS's is unconfirmed (spec §14).
    expect_error(
        "InvalidParameterException",
        "Password length is too short based on the required types.",
        sm.get_random_password,
        PasswordLength=3,
    )


def test_too_long(sm):
    # botocore checks only the minimum client-side, so the server sees 4097.
    expect_error(
        "ValidationException",
        "1 validation error detected: Value '4097' at 'passwordLength' failed to satisfy constraint: "
        "Member must have value less than or equal to 4096",
        sm.get_random_password,
        PasswordLength=4097,
    )


def test_nothing_left_to_choose_from(sm):
    # AWS's text is unconfirmed; the code and status are checked.
    response = expect_error(
        "InvalidParameterException",
        re.compile(".+"),
        sm.get_random_password,
        ExcludeNumbers=True,
        ExcludePunctuation=True,
        ExcludeUppercase=True,
        ExcludeLowercase=True,
    )
    assert response["Error"]["Message"]

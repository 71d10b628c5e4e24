from laaffic_pipeline.api.signing import CONTENT_TYPE, Credentials, compute_sign, signed_headers

# md5 of "bDqJFiq9" + "my-secret" + "1630468800", computed independently with `md5sum`.
EXPECTED_SIGN = "c61578ef3717668be1d01bfb2e6e95db"


def test_sign_matches_hand_computed_md5():
    assert compute_sign("bDqJFiq9", "my-secret", "1630468800") == EXPECTED_SIGN


def test_headers_carry_key_timestamp_and_sign_but_never_the_secret():
    headers = signed_headers(Credentials("bDqJFiq9", "my-secret"), clock=lambda: 1630468800.9)
    assert headers == {
        "Content-Type": CONTENT_TYPE,
        "Sign": EXPECTED_SIGN,
        "Timestamp": "1630468800",
        "Api-Key": "bDqJFiq9",
    }
    assert "my-secret" not in repr(headers)


def test_timestamp_is_taken_fresh_for_each_request():
    ticks = iter([1000.0, 1001.0])
    credentials = Credentials("k", "s")
    first, second = (signed_headers(credentials, clock=lambda: next(ticks)) for _ in range(2))
    assert (first["Timestamp"], second["Timestamp"]) == ("1000", "1001")
    assert first["Sign"] != second["Sign"]


def test_credentials_repr_hides_the_secret():
    assert "my-secret" not in repr(Credentials("key", "my-secret"))

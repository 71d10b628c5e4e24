import httpx

from laaffic_pipeline.api.auth import Credentials, LaafficAuth, compute_sign, signed_headers

# md5 of "bDqJFiq9" + "my-secret" + "1630468800", computed independently with `md5sum`.
EXPECTED_SIGN = "c61578ef3717668be1d01bfb2e6e95db"


def test_sign_matches_hand_computed_md5():
    assert compute_sign("bDqJFiq9", "my-secret", "1630468800") == EXPECTED_SIGN


def test_headers_carry_key_timestamp_and_sign_but_never_the_secret():
    headers = signed_headers(Credentials("bDqJFiq9", "my-secret"), clock=lambda: 1630468800.9)
    assert headers == {
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


def test_auth_signs_every_request_httpx_sends_with_a_fresh_timestamp():
    ticks = iter([1630468800.0, 1630468801.0])
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200))
    auth = LaafficAuth(Credentials("bDqJFiq9", "my-secret"), clock=lambda: next(ticks))
    with httpx.Client(transport=transport, auth=auth) as client:
        client.post("https://api.example.test/v3/voice/recordSipQuery", content=b"{}")
        client.post("https://api.example.test/v3/voice/recordSipQuery", content=b"{}")
    assert [request.headers["Timestamp"] for request in seen] == ["1630468800", "1630468801"]
    assert seen[0].headers["Sign"] == EXPECTED_SIGN
    assert seen[1].headers["Sign"] != EXPECTED_SIGN
    assert "my-secret" not in repr(auth)

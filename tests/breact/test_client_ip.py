"""One client address for rate limits, log-in throttles, sign-up limits and audit rows."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from accounts.models import AuditEvent
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def _request(**meta: str):
    return RequestFactory().get("/", **meta)


def client_ip(request):
    from breact.http import client_ip

    return client_ip(request)


def client_network(request):
    from breact.throttle import client_network

    return client_network(request)


def test_without_a_header_setting_it_is_remote_addr(settings):
    settings.BREACT_CLIENT_IP_HEADER = ""
    request = _request(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.1")

    assert client_ip(request) == "198.51.100.7"


@pytest.mark.parametrize("header", ["HTTP_X_REAL_IP", "X-Real-IP", "x-real-ip"])
def test_the_header_is_found_whichever_way_it_is_spelled(settings, header):
    settings.BREACT_CLIENT_IP_HEADER = header

    assert client_ip(_request(REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP="203.0.113.5")) == (
        "203.0.113.5"
    )


@pytest.mark.parametrize(
    ("value", "proxies", "expected"),
    [
        # Each proxy appends what it saw: the right-most entry is the one the app's own proxy
        # wrote; entries further left came from the client and may be forged.
        ("203.0.113.9", 1, "203.0.113.9"),
        ("6.6.6.6, 203.0.113.9", 1, "203.0.113.9"),
        ("6.6.6.6,203.0.113.9, 10.0.0.2", 2, "203.0.113.9"),
        ("203.0.113.9", 3, "203.0.113.9"),  # shorter than the proxy count: its left-most
        (" 203.0.113.9:5123 ", 1, "203.0.113.9"),
        ("[2001:db8::1]:443", 1, "2001:db8::1"),
        ("::ffff:203.0.113.9", 1, "203.0.113.9"),
    ],
)
def test_a_comma_list_is_read_from_the_right(settings, value, proxies, expected):
    settings.BREACT_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.BREACT_TRUSTED_PROXY_COUNT = proxies

    assert client_ip(_request(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        " , ,",
        "garbage",
        "1.2.3.4, not-an-ip",
        "999.1.1.1",
        "1.2.3.4" + ", 5.6.7.8" * 500,
        "\x00",
    ],
)
def test_a_missing_or_bad_header_falls_back_to_remote_addr(settings, value):
    settings.BREACT_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"

    assert client_ip(_request(REMOTE_ADDR="10.9.8.7", HTTP_X_FORWARDED_FOR=value)) == "10.9.8.7"
    assert client_ip(_request(REMOTE_ADDR="10.9.8.7")) == "10.9.8.7"


def test_no_valid_address_at_all_is_none_and_one_shared_counter(settings):
    settings.BREACT_CLIENT_IP_HEADER = ""
    request = _request(REMOTE_ADDR="")

    assert client_ip(request) is None
    assert client_network(request) == "unknown"


def test_ipv6_clients_are_counted_per_64(settings):
    settings.BREACT_CLIENT_IP_HEADER = ""
    one = _request(REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    same_64 = _request(REMOTE_ADDR="2001:db8:1:2:bbbb::9")

    assert client_network(one) == client_network(same_64) == "2001:db8:1:2::"
    assert client_ip(one) == "2001:db8:1:2:aaaa::1"  # audit rows keep the full address


@pytest.mark.parametrize("value", ["garbage", "", "1.1.1.1, 2.2.2.2, x", "a,b,c"])
def test_login_sign_up_and_api_auth_never_fail_on_the_header(settings, value, make_key):
    settings.BREACT_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    key = make_key()
    client = Client(HTTP_X_FORWARDED_FOR=value)

    login = client.post("/login/", {"login": "a@example.com", "password": "x"})
    signup = client.post(
        "/signup/",
        {
            "email": "hdr@example.com",
            "password1": "plum-kettle-orbit-97",
            "password2": "plum-kettle-orbit-97",
        },
    )
    api = client.get("/api/v1/account", HTTP_X_API_KEY=key.raw)
    bad_key = client.get("/api/v1/account", HTTP_X_API_KEY="brk_" + "H" * 40)

    assert login.status_code == 200
    assert signup.status_code == 302
    assert api.status_code == 200
    assert bad_key.status_code == 401


def test_audit_rows_record_the_same_client_address(settings, account):
    settings.BREACT_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    client = Client(HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.44", REMOTE_ADDR="10.0.0.1")
    client.force_login(account.owner)
    key = ApiKeyFactory(account=account)

    client.post(f"/keys/{key.pk}/revoke/")

    event = AuditEvent.objects.get(action="api_key.revoke")
    assert event.ip == "203.0.113.44"

"""The SSRF guard of webhook URLs (:mod:`domain.webhook_targets`), with a fake resolver (no I/O)."""

from __future__ import annotations

import pytest

from domain.webhook_targets import TargetRefused, check_target

HOSTS = {
    "hooks.example.com": ["93.184.215.14"],
    "both.example.com": ["93.184.215.14", "10.1.2.3"],
    "v6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
}


def resolve(host: str, port: int) -> list[str]:
    if host in HOSTS:
        return HOSTS[host]
    try:
        import ipaddress

        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError as exc:
        raise OSError(f"unknown host {host}") from exc


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/in", "http://hooks.example.com:8080/x", "https://v6.example.com/", "http://8.8.8.8/"],
)
def test_public_http_targets_pass(url: str) -> None:
    check_target(url, resolve)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9000/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://10.0.0.5/", "private"),
        ("http://192.168.1.10/", "private"),
        ("http://172.16.3.4/", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://100.64.0.1/", "shared"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://both.example.com/", "one private address among public ones"),
        ("http://mapped.example.com/", "IPv4-mapped loopback"),
        ("ftp://hooks.example.com/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("http://user:pw@hooks.example.com/", "credentials"),
        ("http://nowhere.invalid/", "does not resolve"),
        ("http://hooks.example.com:99999/", "bad port"),
        ("https://hooks.example.com/" + "a" * 3000, "too long"),
    ],
)
def test_refused_targets(url: str, reason: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        check_target(url, resolve)
    assert (refused.value.code, refused.value.field) == ("WEBHOOK_URL_REFUSED", "url"), reason


def test_private_targets_pass_only_when_allowed() -> None:
    check_target("http://127.0.0.1:9000/hook", resolve, allow_private=True)
    with pytest.raises(TargetRefused):
        check_target("ftp://127.0.0.1/", resolve, allow_private=True)  # the scheme rule still holds

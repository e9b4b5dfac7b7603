"""Links a disarmed document may keep (converters/formats/link_rules.py), and the inspector's own
reading of them (converters/inspect/mail_links.py): the same answers from two separate codes."""

from __future__ import annotations

import pytest

from converters.formats.html_text import html_to_text
from converters.formats.link_rules import link_safe
from converters.inspect.mail_links import mail_link_ok

KEPT = ["mailto:soumu@city.example.lg.jp", "MAILTO:soumu@city.example.lg.jp?subject=%E8%A6%8B%E7%A9%8D",
        "mailto:a@example.jp?cc=b@example.jp&bcc=c@example.jp&subject=x&body=line1%0D%0Aline2",
        "mailto:?to=a@example.jp&subject=&", "https://www.example.jp/?attach=x", "#目次"]
REFUSED = ["mailto:a@example.jp?attach=file:///C:/Users/a/secret.docx",
           "mailto:a@example.jp?ATTACHMENT=%2Fetc%2Fpasswd", "mailto:a@example.jp?%61ttach=C:%5Csecret.xlsx",
           "mailto:a@example.jp?subject=x&amp;attach=~%2F.ssh%2Fid_rsa",  # "amp;attach" is no field of a message
           "mailto:a@example.jp?subject=a%0D%0ABcc:%20x@attacker.example", "mailto:a@example.jp%0D%0ABcc:x@a.example",
           "mailto:a@example.jp?x-header=1"]


@pytest.mark.parametrize("link", KEPT)
def test_message_fields_stay(link: str) -> None:
    assert link_safe(link) and mail_link_ok(link)


@pytest.mark.parametrize("link", REFUSED)
def test_attachments_and_header_injection_go(link: str) -> None:
    assert not link_safe(link) and not mail_link_ok(link)


def test_a_mail_body_shows_no_mailto_link_that_attaches_a_file() -> None:
    html = ('<p><a href="mailto:soumu@example.jp?subject=%E8%A6%8B%E7%A9%8D&attach=C:%5Csecret.xlsx">連絡</a> '
            '<a href="mailto:soumu@example.jp?subject=%E8%A6%8B%E7%A9%8D">問合せ</a></p>')
    text = html_to_text(html)
    assert "attach" not in text and "secret" not in text
    assert "連絡 ([リンク先を削除 / link removed: mailto])" in text
    assert "問合せ (mailto:soumu@example.jp?subject=%E8%A6%8B%E7%A9%8D)" in text


@pytest.mark.parametrize(("link", "kept"), [
    ("https://www.city.example.lg.jp@attacker.example/login", False),
    ("http://user:pass@198.51.100.7/", False), ("HTTPS:\\\\www.example.jp%40attacker.example/", False),
    ("https://www.example.jp/a@b", True), ("https://www.example.jp/?mail=a@b.example", True),
    ("https://www.example.jp#x@y", True),
])
def test_a_web_link_naming_a_user_before_its_host_is_not_kept(link: str, kept: bool) -> None:
    """"https://city@attacker/" reads as the city's site and goes to attacker.example."""
    assert link_safe(link) is kept

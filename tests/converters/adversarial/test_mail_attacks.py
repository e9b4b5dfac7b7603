"""Every attack mail of ``mail_attacks`` through the split, and each attachment it hands over
through the disarm path: what a mail program would show is found, and blocked or disarmed."""

from __future__ import annotations

from pathlib import Path

import pytest

from converters.mail.split import split_mail
from tests.conftest import run_engine
from tests.converters.adversarial.mail_attacks import MailAttack, mail_attacks

ATTACKS = {attack.name: attack for attack in mail_attacks()}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_mail(tmp_path: Path, name: str) -> None:
    attack: MailAttack = ATTACKS[name]
    expect = attack.expect
    report = split_mail(attack.raw, tmp_path)
    assert report["rejected"] is False
    body = (tmp_path / "body.txt").read_text(encoding="utf-8")
    for text in expect.body_has:
        assert text in body
    for text in expect.body_lacks:
        assert text not in body
    if expect.dropped is not None:
        assert expect.dropped in {item["reason_code"] for item in report["dropped"]}
    if expect.attachment is None:
        return
    found = [item for item in report["attachments"] if item["name"] == expect.attachment]
    assert len(found) == 1, [item["name"] for item in report["attachments"]]
    data = tmp_path / found[0]["file"]
    assert data.read_bytes().startswith(expect.attachment_starts)
    disarmed = run_engine(data, tmp_path / "out", name=expect.attachment)
    assert (disarmed.outcome, disarmed.reason_code) == ("blocked", expect.blocked_as)


def test_the_attacks_carry_what_they_claim() -> None:
    """The generators themselves: each mail is unique and names what it must end in."""
    assert len(ATTACKS) == len(mail_attacks()) >= 20
    for attack in ATTACKS.values():
        expect = attack.expect
        assert expect.attachment or expect.dropped or expect.body_has or expect.body_lacks
        assert (expect.attachment is None) == (expect.blocked_as is None)

"""The texts a recipient on the LGWAN side reads: the warning at the top of a sanitised mail and
the notice at its end (Japanese first, then English), listing every attachment and what
happened to it."""

from __future__ import annotations

import re
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from gateway.messages import FINDING_LABELS, reason_pair

AUTH_FAILURE = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*(fail|softfail|permerror)\b", re.IGNORECASE)
MAX_MEMBER_LINES = 300  # removed members listed per archive; the rest are counted
CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


GUESSED_TEXT = frozenset({"mail_charset_mislabelled", "mail_charset_unknown", "text_undecodable_bytes_replaced"})


def warning(authentication_results: list[Any], headers: dict[str, str],
            addresses: dict[str, Any] | None = None, findings: list[dict[str, str]] | None = None) -> str:
    """Lines for the top of the body: failed sender authentication, a diverging Reply-To, a body
    whose characters had to be guessed."""
    lines = []
    codes = {f.get("code") for f in findings or []}
    if codes & GUESSED_TEXT:
        lines.append("【注意】本文の文字コードが正しく示されていなかったため、推定して変換しました。"
                     "文字化けがある場合は管理者に原本の確認を依頼してください。")
        lines.append("[Warning] The body's character set was missing or wrong and had to be guessed; if the text "
                     "looks garbled, ask the administrator to check the original.")
    failures = sorted({m.group(1).upper() for r in authentication_results if isinstance(r, str)
                       for m in AUTH_FAILURE.finditer(r)})
    if failures:
        lines.append(f"【注意】送信元の認証 ({'/'.join(failures)}) に失敗しました。なりすましの可能性があります。")
        lines.append(f"[Warning] Sender authentication failed ({'/'.join(failures)}): the sender may be forged.")
    parsed = addresses or {}
    reply_to = [str(p[1]) for p in parsed.get("reply-to", []) if isinstance(p, list) and len(p) == 2]
    senders = {str(p[1]).lower() for p in parsed.get("from", []) if isinstance(p, list) and len(p) == 2}
    if not parsed:
        reply_to = [a for _, a in getaddresses([headers.get("reply-to", "")]) if a]
        senders = {a.lower() for _, a in getaddresses([headers.get("from", "")]) if a}
    for pair in parsed.get("from", []):
        if isinstance(pair, list) and len(pair) == 2 and "@" in str(pair[0]) and str(pair[1]).lower() not in str(
                pair[0]).lower():
            lines.append(f"【注意】差出人の表示名に別のアドレスが書かれています。実際の差出人: {pair[1]}")
            lines.append(f"[Warning] The sender's display name shows another address; the real sender is {pair[1]}.")
    diverging = [a for a in reply_to if a.lower() not in senders]
    if diverging:
        lines.append(f"【注意】返信先 (Reply-To: {', '.join(diverging)}) が差出人と異なります。")
        lines.append(f"[Warning] Replies go to {', '.join(diverging)}, not to the sender.")
    return ("\n".join(lines) + "\n" + "-" * 60 + "\n\n") if lines else ""


def _plain(value: object, limit: int = 300) -> str:
    return CONTROL.sub(" ", str(value or ""))[:limit].strip()


def removed_members(item: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str]]:
    """``(path in the archive, Japanese reason, English reason)`` of every member of an archive
    (at any depth: ``inner.zip/setup.exe``) that did not arrive, links skipped included."""
    found: list[tuple[str, str, str]] = []
    for finding in item.get("findings") or []:
        if isinstance(finding, dict) and finding.get("code") == "archive_link_skipped":
            found.append((prefix + _plain(finding.get("detail")), *reason_pair("archive_link_skipped")))
    for member in item.get("members") or []:
        if not isinstance(member, dict):
            continue
        path = prefix + _plain(member.get("input"))
        if member.get("outcome") == "blocked":
            code = str(member.get("reason_code") or "")
            japanese, english = reason_pair(code, _plain(member.get("reason")) or "removed")
            names = [_plain(f.get("detail"), 100) for f in member.get("findings") or []
                     if isinstance(f, dict) and f.get("code") == "malware_found"]
            if code == "malware" and names:
                japanese += f" (検出名: {', '.join(names[:10])})"
            found.append((path, japanese, english))
        found += removed_members(member, path + "/")
    return found


def _member_lines(item: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The lines under an archive attachment naming each member removed and why."""
    removed = removed_members(item)
    if not removed:
        return [], []
    japanese = ["    除外したファイル:"] + [f"    - {path}: {reason}" for path, reason, _ in removed[:MAX_MEMBER_LINES]]
    english = ["    removed from it:"] + [f"    - {path}: {reason}" for path, _, reason in removed[:MAX_MEMBER_LINES]]
    if len(removed) > MAX_MEMBER_LINES:
        rest = len(removed) - MAX_MEMBER_LINES
        japanese.append(f"    - ほか {rest} 件(一覧は参照番号で管理者にお問い合わせください)")
        english.append(f"    - {rest} more (the administrator can list them from the reference)")
    return japanese, english


def build_notice(attachments: list[dict[str, Any]], reference: str, *, as_text: bool = False,
                 omitted: list[dict[str, Any]] | None = None) -> str:
    """The notice at the end of the body: Japanese first, English second. Each archive lists the
    members it lost; ``omitted`` are the forms of the body left out (an HTML version of a
    plain-text body), each named with its type."""
    japanese = ["-" * 60, "【無害化ゲートウェイからのお知らせ】",
                "このメールはインターネットから届いたため、本文をテキストに変換しました。"]
    english = ["[Gateway notice] This message came from the internet: its body was converted to text."]
    if attachments:
        japanese.append("添付ファイル:")
        english.append("Attachments:")
    for index, item in enumerate(attachments, start=1):
        name, size = item.get("input", ""), human_size(int(item.get("size") or 0))
        outputs = ", ".join(Path(o["path"]).name for o in item.get("outputs", []))
        code = str(item.get("reason_code") or "")
        if item["outcome"] == "blocked":
            reason_ja, reason_en = reason_pair(code, _plain(item.get("reason")))
            if code == "malware" and item.get("signatures"):
                reason_ja += f" (検出名: {', '.join(_plain(s, 100) for s in item['signatures'][:10])})"
            japanese.append(f" {index}. {name} ({size}) → 削除しました: {reason_ja}")
            if code == "malware" and item.get("signatures"):
                reason_en += f" ({', '.join(_plain(s, 100) for s in item['signatures'][:10])})"
            english.append(f" {index}. {name} ({size}) -> removed: {reason_en}")
        else:
            done_ja = "無害化して添付" if item["outcome"] == "sanitized" else "検査して添付"
            done_en = "disarmed and attached" if item["outcome"] == "sanitized" else "checked and attached"
            if as_text:
                done_ja, done_en = "本文を上に取り込みました", "its text is included above"
            codes = ", ".join(sorted({f["code"] for f in item.get("findings", [])})) or "-"
            removed_ja = "、".join(dict.fromkeys(FINDING_LABELS[f["code"]] for f in item.get("findings", [])
                                                  if f["code"] in FINDING_LABELS))
            japanese.append(f" {index}. {name} ({size}) → {done_ja} ({outputs})" +
                            (f": {removed_ja}" if removed_ja else ""))
            english.append(f" {index}. {name} ({size}) -> {done_en} ({outputs}; {codes})")
        members_ja, members_en = _member_lines(item)
        japanese += members_ja
        english += members_en
    for kind in dict.fromkeys(_plain(part.get("content_type"), 100) for part in omitted or []):
        japanese.append(f"本文の別形式 ({kind}) は、本文と同じ内容の別の表し方のため省きました。")
        english.append(f"The body's other form ({kind}) was left out: it is another rendering of the same text.")
    japanese.append(f"原本が必要な場合は参照番号 {reference} を添えて管理者にご連絡ください。")
    english.append(f"To request the original, quote reference {reference} to the administrator.")
    return "\n".join(japanese) + "\n\n" + "\n".join(english) + "\n"

"""The texts a recipient on the LGWAN side reads: the warning at the top of a sanitised mail and
the notice at its end (Japanese first, then English), listing every attachment and what
happened to it."""

from __future__ import annotations

import re
from email.utils import getaddresses
from pathlib import Path
from typing import Any

AUTH_FAILURE = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*(fail|softfail|permerror)\b", re.IGNORECASE)
JAPANESE_REASONS = {
    "executable": "実行ファイルのため",
    "installer": "インストーラーのため",
    "script": "スクリプトのため",
    "shortcut": "ショートカット(LNK)のため",
    "disk_image": "ディスクイメージのため",
    "onenote": "OneNote ファイルのため",
    "chm": "ヘルプファイル(CHM)のため",
    "java_archive": "Java アーカイブのため",
    "svg": "SVG 画像のため",
    "password_protected": "パスワード付きのため検査できません",
    "encrypted_archive": "暗号化ZIPのため検査できません",
    "unsupported_compression": "対応していない圧縮方式のため検査できません",
    "decompression_bomb": "展開すると異常に大きくなるため",
    "corrupt_file": "ファイルが壊れているため",
    "unsupported_type": "対応していない形式のため",
    "too_large": "サイズ上限を超えるため",
    "mail_message": "メールファイルのため",
    "archive_all_members_blocked": "中のファイルがすべて削除対象のため",
    "verification_failed": "無害化後の検査に合格しなかったため",
    "timeout": "処理が時間内に終わらなかったため",
    "unsupported_archive": "対応していない圧縮形式(RAR など)のため検査できません",
    "encoded_attachment": "符号化されたファイル(uuencode など)を含むため",
    "archive_too_deep": "圧縮ファイルの入れ子が深すぎるため",
    "archive_too_many_members": "圧縮ファイル内のファイル数が上限を超えるため",
    "too_many_pages": "ページ数が上限を超えるため",
    "limit_exceeded": "処理の上限を超えるため",
    "resource_limit": "処理に必要なメモリや時間が上限を超えるため",
    "converter_crashed": "安全に処理できなかったため",
    "converter_report_invalid": "安全に処理できなかったため",
    "converter_error": "安全に処理できなかったため",
    "converter_unavailable": "処理に必要な変換機能が使えなかったため",
    "sandbox_failure": "安全に処理できなかったため",
    "internal_error": "内部エラーのため",
    "blocked_type": "危険な形式のため",
    "signature_removed": "電子署名は無害化後は検証できないため外しました",
    "encrypted_body": "暗号化されているため検査できません",
    "encoded_file_removed": "本文に埋め込まれた符号化ファイルのため",
    "removed_by_policy": "添付ファイルは受け付けない設定のため",
    "attachments_too_large": "添付ファイルの合計が上限を超えるため",
    "archive_link_skipped": "ファイルではなくリンク(シンボリックリンク)のため",
    "signed_opaque": "署名の中に本文が包まれた形式(S/MIME)のため検査できません",
    "message_partial": "分割して送られたメッセージの一部のため、組み立てられません",
    "external_body": "本文がメールの外(URL など)にあり、取りに行きません",
    "tnef_rtf_body": "Outlook のリッチテキスト形式の本文は読み取れないため",
    "mail_structure_truncated": "入れ子が深すぎるか部分が多すぎるため、以降は読んでいません",
    "mail_body_truncated": "本文が長すぎるため、続きを省きました",
    "too_many_parts": "1 通のメールで扱える部分の数を超えたため",
    "malware": "ウイルス(マルウェア)を検出したため",
    "scan_unavailable": "ウイルス検査ができなかったため",
    "scan_too_large": "ウイルス検査できる大きさを超えるため",
    "signatures_stale": "ウイルス定義が古く検査できなかったため",
}
ENGLISH_REASONS = {"archive_link_skipped": "a link (symbolic link), not a file"}
MAX_MEMBER_LINES = 300  # removed members listed per archive; the rest are counted
CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
FINDINGS_JA = {
    "vba_macro_removed": "マクロを削除",
    "excel4_macro_removed": "Excel 4 マクロを削除",
    "activex_removed": "ActiveX を削除",
    "embedded_object_removed": "埋め込みオブジェクトを削除",
    "external_object_removed": "外部参照オブジェクトを削除",
    "external_link_removed": "外部リンクを削除",
    "remote_template_removed": "外部テンプレート参照を削除",
    "dde_field_removed": "DDE フィールドを削除",
    "excel_external_formula_removed": "外部参照の数式を値に置換",
    "data_connection_removed": "外部データ接続を削除",
    "custom_ui_removed": "リボン拡張を削除",
    "macro_enabled_type_converted": "マクロなし形式に変換",
    "legacy_format_converted": "新しい形式に変換",
    "pdf_javascript_removed": "JavaScript を削除",
    "pdf_action_removed": "自動実行・外部アクションを削除",
    "pdf_open_action_removed": "開いた時の動作を削除",
    "pdf_embedded_file_removed": "埋め込みファイルを削除",
    "pdf_external_link_removed": "外部リンクを削除",
    "pdf_xfa_removed": "XFA フォームを削除",
    "rasterized": "画像化",
    "image_metadata_removed": "メタデータを削除",
    "image_trailing_data_removed": "末尾の隠しデータを削除",
    "csv_formula_neutralised": "数式セルを無効化",
    "html_converted_to_text": "HTML をテキスト化",
    "archive_member_removed": "危険なファイルを除外",
    "default_password_removed": "既定パスワードを解除",
    "macro_removed": "マクロを削除",
    "script_event_removed": "スクリプトを削除",
    "script_link_removed": "スクリプトを削除",
    "external_formula_removed": "外部参照の数式を値に置換",
    "excel_active_formula_removed": "外部と通信する数式を値に置換",
    "field_removed": "外部を参照するフィールドを表示結果に置換",
    "active_link_removed": "プログラムを起動するリンクを削除",
    "media_removed": "画像でない埋め込みデータを削除",
    "embedded_media_removed": "埋め込み音声・動画を削除",
    "embedded_font_removed": "埋め込みフォントを削除",
    "document_variables_removed": "文書変数を削除",
    "unreferenced_part_removed": "文書から参照されていない部品を削除",
    "unknown_markup_removed": "不明な要素を削除",
    "part_removed": "対象外の部品を削除",
    "encoded_file_removed": "符号化ファイルを削除",
    "web_extension_removed": "Web アドインを削除",
    "scan_skipped_too_large": "大きすぎるためウイルス検査をせずに無害化",
}


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
            found.append((prefix + _plain(finding.get("detail")), JAPANESE_REASONS["archive_link_skipped"],
                          ENGLISH_REASONS["archive_link_skipped"]))
    for member in item.get("members") or []:
        if not isinstance(member, dict):
            continue
        path = prefix + _plain(member.get("input"))
        if member.get("outcome") == "blocked":
            code = str(member.get("reason_code") or "")
            english = _plain(member.get("reason")) or "removed"
            japanese = JAPANESE_REASONS.get(code, english)
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
            reason_ja = JAPANESE_REASONS.get(code, str(item.get("reason") or ""))
            if code == "malware" and item.get("signatures"):  # the English reason names them already
                reason_ja += f" (検出名: {', '.join(_plain(s, 100) for s in item['signatures'][:10])})"
            japanese.append(f" {index}. {name} ({size}) → 削除しました: {reason_ja}")
            english.append(f" {index}. {name} ({size}) -> removed: {item.get('reason')}")
        else:
            done_ja = "無害化して添付" if item["outcome"] == "sanitized" else "検査して添付"
            done_en = "disarmed and attached" if item["outcome"] == "sanitized" else "checked and attached"
            if as_text:
                done_ja, done_en = "本文を上に取り込みました", "its text is included above"
            codes = ", ".join(sorted({f["code"] for f in item.get("findings", [])})) or "-"
            removed_ja = "、".join(dict.fromkeys(FINDINGS_JA[f["code"]] for f in item.get("findings", [])
                                                  if f["code"] in FINDINGS_JA))
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

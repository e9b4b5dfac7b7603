"""The console pages' own words, Japanese first (the message catalogue for reason and finding
codes is ``gateway/messages.py``)."""

from __future__ import annotations

from gateway.messages import LANGUAGES, Language

WORDS: dict[str, tuple[str, str]] = {
    "product": ("無害化ゲートウェイ", "Sanitisation gateway"),
    "side_internet": ("インターネット接続系", "internet side"),
    "side_lgwan": ("LGWAN 接続系", "LGWAN side"),
    "skip": ("本文へ移動", "Skip to content"),
    "other_language": ("English", "日本語"),
    "login_title": ("ログイン", "Log in"),
    "name": ("利用者名", "User name"),
    "password": ("パスワード", "Password"),
    "login": ("ログイン", "Log in"),
    "logout": ("ログアウト", "Log out"),
    "login_failed": ("利用者名またはパスワードが違います。", "The user name or password is wrong."),
    "login_throttled": ("ログインの失敗が続いたため、しばらくログインできません。"
                        "{seconds} 秒後にもう一度お試しください。",
                        "Too many failed logins: try again in {seconds} seconds."),
    "login_expired": ("画面の有効期限が切れました。もう一度ログインしてください。",
                      "This page expired; please log in again."),
    "signed_in_as": ("ログイン中", "Signed in as"),
    "role_uploader": ("アップロード担当", "uploader"),
    "role_auditor": ("監査担当", "auditor"),
    "role_admin": ("管理者", "administrator"),
    "upload_title": ("アップロード", "Upload"),
    "upload_intro": ("LGWAN 接続系へ持ち込むファイルを選んでください。"
                     "ファイルは無害化（危険な部分の除去）と検査のあと、"
                     "LGWAN 接続系の「受け取り」画面から取り出せます。",
                     "Choose the files to bring into LGWAN. Each is disarmed and checked; the result is picked up "
                     "on the LGWAN side's Receive page."),
    "drop_here": ("ここにファイルをドラッグ＆ドロップ", "Drag and drop files here"),
    "or": ("または", "or"),
    "choose_files": ("ファイルを選ぶ", "Choose files"),
    "start_upload": ("アップロード開始", "Start upload"),
    "max_size": ("1 ファイルあたり {mb} MB まで送れます。", "Up to {mb} MB per file."),
    "no_upload_role": ("この利用者はアップロードできません（アップロード担当または管理者のみ）。",
                       "This account may not upload (uploaders and administrators only)."),
    "receive_title": ("受け取り", "Receive"),
    "receive_intro": ("無害化の済んだファイルを新しい順に表示しています。遮断されたファイルは理由と参照番号を確認し、"
                      "必要なら参照番号を添えて管理者に問い合わせてください。",
                      "Your disarmed files, newest first. For a blocked file, read the reason and quote its "
                      "reference to the administrator if you need the original."),
    "receive_all": ("監査担当・管理者として、すべての利用者の転送を表示しています。",
                    "As an auditor or administrator you see every user's transfers."),
    "no_transfers": ("まだ転送はありません。", "No transfers yet."),
    "refresh": ("最新の状態に更新", "Refresh"),
    "received_at": ("受付日時", "Received"),
    "uploaded_by": ("送信者", "Uploaded by"),
    "transfer": ("転送", "Transfer"),
    "file": ("ファイル", "File"),
    "state": ("状態", "State"),
    "result": ("結果", "Result"),
    "download": ("ダウンロード", "Download"),
    "reference": ("参照番号", "Reference"),
    "removed": ("取り除いたもの・変換したこと", "What was removed or changed"),
    "blocked_reason": ("遮断の理由", "Why it was blocked"),
    "nothing_removed": ("危険な要素は見つかりませんでした（作り直して渡します）。",
                        "Nothing risky was found (the file was re-written all the same)."),
    "pick_up": ("LGWAN 接続系の「受け取り」画面から取り出せます。", "Pick it up on the LGWAN side's Receive page."),
    "ask_admin": ("原本が必要な場合は、この参照番号を添えて管理者にご相談ください。",
                  "If you need the original, ask the administrator quoting this reference."),
    "state_uploading": ("送信中", "Uploading"),
    "state_queued": ("受付", "Received"),
    "state_waiting_for_scan": ("受付（ウイルス検査待ち）", "Received (waiting for the malware scan)"),
    "state_processing": ("検査・無害化中", "Scanning and disarming"),
    "state_passed": ("完了", "Done"),
    "state_sanitized": ("完了（無害化済み）", "Done (disarmed)"),
    "state_blocked": ("遮断", "Blocked"),
    "state_failed": ("処理できませんでした（管理者が確認します）", "Could not be processed (the administrator "
                     "will look at it)"),
    "state_held": ("保留（管理者が確認しています）", "Held (an administrator is looking at it)"),
    "state_error": ("送信できませんでした", "Not sent"),
    "upload_failed": ("アップロードできませんでした", "The upload failed"),
    "error_401": ("ログインの有効期限が切れました。"
                  "もう一度ログインしてください。", "Your session ended; log in again."),
    "error_403": ("この操作は許可されていません。", "This is not allowed."),
    "error_404": ("見つかりません。", "Not found."),
    "error_413": ("ファイルが大きすぎます。", "The file is too large."),
    "error_503": ("ゲートウェイが混み合っています。しばらくしてからもう一度お試しください。",
                  "The gateway is busy; try again later."),
    "error_other": ("通信に失敗しました。", "The connection failed."),
    "bytes": ("バイト", "bytes"),
}


def word(key: str, language: Language) -> str:
    entry = WORDS[key]
    return entry[0] if language == "ja" else entry[1]


def state_word(state: str, language: Language) -> str:
    """A transfer's or file's state in words; a state this list does not know yet stays as it is."""
    return word(f"state_{state}", language) if f"state_{state}" in WORDS else state


def language_of(value: str | None) -> Language:
    return "en" if value == "en" else "ja"


def catalogue(language: Language) -> dict[str, str]:
    """Every word in one language (the upload page's script gets the state names from here)."""
    return {key: word(key, language) for key in WORDS}


__all__ = ["LANGUAGES", "WORDS", "Language", "catalogue", "language_of", "state_word", "word"]

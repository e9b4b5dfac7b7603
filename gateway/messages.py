"""Plain sentences for every reason code and finding code (docs/CONTRACT.md), in Japanese and
English: what staff read on the web console instead of a code. One entry a code; a code missing
here is shown with a general sentence and the code itself (tests/gateway/test_messages.py checks
that every code the contract lists has both sentences).
"""

from __future__ import annotations

from typing import Literal

Language = Literal["ja", "en"]
LANGUAGES: tuple[Language, ...] = ("ja", "en")

# reason_code -> (Japanese, English): why a file was blocked (or a mail rejected)
REASONS: dict[str, tuple[str, str]] = {
    # what the file is
    "executable": ("プログラム（実行ファイル）のため、LGWAN へ持ち込めません。",
                   "It is a program (an executable), which may not enter LGWAN."),
    "installer": ("インストーラ（MSI・CAB）のため、LGWAN へ持ち込めません。",
                  "It is an installer (MSI or CAB), which may not enter LGWAN."),
    "script": ("スクリプトまたはショートカットのため、LGWAN へ持ち込めません（ファイル名または中身で判定）。",
               "It is a script or shortcut (by its name or content), which may not enter LGWAN."),
    "shortcut": ("Windows のショートカット（LNK）のため、LGWAN へ持ち込めません。",
                 "It is a Windows shortcut (LNK), which may not enter LGWAN."),
    "disk_image": ("ディスクイメージ（ISO・IMG・VHD など）のため、LGWAN へ持ち込めません。",
                   "It is a disk image (ISO, IMG, VHD, ...), which may not enter LGWAN."),
    "onenote": ("OneNote のノートブックは無害化できないため、持ち込めません。",
                "OneNote notebooks cannot be made safe and may not enter."),
    "chm": ("コンパイル済みヘルプ（CHM）のため、持ち込めません。",
            "It is compiled HTML help (CHM), which may not enter."),
    "java_archive": ("Java のプログラム（JAR・class）のため、持ち込めません。",
                     "It is a Java program (JAR or class), which may not enter."),
    "svg": ("SVG 画像はスクリプトを含められるため、通常の設定では持ち込めません（画像化の設定でのみ可）。",
            "SVG images can carry scripts and are accepted only when the gateway rasterises."),
    "unsupported_archive": ("この形式の圧縮ファイル（RAR など）は中身を検査できないため、持ち込めません。",
                            "This kind of archive (such as RAR) cannot be inspected and may not enter."),
    "mail_message": ("保存されたメールファイルはメールの経路で送ってください（ファイルとしては持ち込めません）。",
                     "A saved mail must come through the mail channel, not as a file."),
    "encoded_attachment": ("テキストの中に別のファイルが埋め込まれている（uuencode などの符号化）ため、"
                           "持ち込めません。",
                           "The text carries another file encoded in it (uuencode or similar)."),
    "unsupported_type": ("ゲートウェイが扱えない種類のファイルのため、持ち込めません。",
                         "The gateway does not handle this type of file."),
    # what was wrong with it
    "corrupt_file": ("ファイルが壊れているか、名前と中身が一致しないため、安全を確認できませんでした。",
                     "The file is damaged or not what it claims to be, so it could not be proven safe."),
    "password_protected": ("パスワードで暗号化されているため、中身を検査できません。"
                           "パスワードを外してから送ってください。",
                           "It is encrypted with a password and cannot be inspected; send it without the password."),
    "encrypted_archive": ("暗号化された圧縮ファイル（またはその中のファイル）のため、中身を検査できません。",
                          "The archive, or a file in it, is encrypted and cannot be inspected."),
    "unsupported_compression": ("ゲートウェイが読めない圧縮方式が使われているため、中身を検査できません。",
                                "It uses a compression method the gateway cannot read."),
    "xml_dtd_forbidden": ("文書の XML に DTD 宣言があり、危険な読み込みにつながるため遮断しました。",
                          "The document's XML declares a DTD, which can be abused, so it was blocked."),
    "too_large": ("ファイルが大きすぎるため、処理できません。",
                  "The file is larger than the gateway accepts."),
    "decompression_bomb": ("展開すると極端に大きくなる圧縮ファイル（圧縮爆弾の疑い）のため、遮断しました。",
                           "It expands far beyond the limits (a suspected decompression bomb)."),
    "archive_too_deep": ("圧縮ファイルの入れ子が深すぎるため、遮断しました。",
                         "Archives are nested too deeply."),
    "archive_too_many_members": ("圧縮ファイルに含まれるファイルが多すぎるため、遮断しました。",
                                 "The archive holds too many files."),
    "too_many_pages": ("ページ数が上限を超えるため、処理できません。",
                       "It has more pages than the gateway processes."),
    "archive_all_members_blocked": ("圧縮ファイルの中のファイルがすべて遮断されたため、何も渡せません。",
                                    "Every file in the archive was blocked, so nothing is left to deliver."),
    # what went wrong while processing it
    "verification_failed": ("無害化後の再検査で安全を確認できなかったため、遮断しました。",
                            "The disarmed result failed the independent check, so it was blocked."),
    "timeout": ("処理に時間がかかりすぎたため、中断して遮断しました。",
                "Processing took too long and was stopped; the file was blocked."),
    "resource_limit": ("処理に必要なメモリや時間が上限を超えたため、遮断しました。",
                       "Processing needed more memory, time or disk than allowed; the file was blocked."),
    "converter_crashed": ("ファイルの解析中に処理が異常終了したため、遮断しました。",
                          "The parser failed while reading the file; the file was blocked."),
    "converter_report_invalid": ("解析結果の検証に失敗したため、遮断しました。",
                                 "What came back from the isolated parser failed validation; the file was blocked."),
    "converter_unavailable": ("変換に必要なソフトウェア（LibreOffice）がないため、処理できません。"
                              "管理者に連絡してください。",
                              "A converter the file needs (LibreOffice) is not installed; tell the administrator."),
    "converter_error": ("変換処理を実行できなかったため、遮断しました。",
                        "The converter could not run as asked; the file was blocked."),
    "internal_error": ("ゲートウェイ内部の障害のため、遮断しました。管理者に連絡してください。",
                       "An internal failure of the gateway blocked the file; tell the administrator."),
    # mail only
    "removed_by_policy": ("設定により添付ファイルは取り除かれ、一覧だけが届きます。",
                          "By policy attachments are removed; only their list is delivered."),
    "attachments_too_large": ("無害化した添付ファイルの合計が上限を超えたため、取り除きました。",
                              "The disarmed attachments together exceed the limit and were removed."),
    "signature_removed": ("電子署名（S/MIME・PGP）の部分は取り除きました。",
                          "The S/MIME or PGP signature part was removed."),
    "encrypted_body": ("暗号化された本文（S/MIME・PGP）は検査できないため、届けません。",
                       "An encrypted body (S/MIME or PGP) cannot be inspected and is not delivered."),
    "encoded_file_removed": ("本文の中に符号化されたファイル（uuencode など）があったため、切り取りました。",
                             "A file encoded in the body text (uuencode or similar) was cut out."),
    "not_a_mail": ("インターネットメールの形式ではないため、受け付けませんでした。",
                   "The input is not an internet mail."),
    "headers_unbuildable": ("送信用のヘッダを作れなかったため、配送しませんでした。",
                            "The outgoing headers could not be written, so the mail was not delivered."),
    # antivirus (gateway/antivirus/verdict.py)
    "malware": ("ウイルス（マルウェア）を検出したため、遮断しました。",
                "Malware was detected, so the file was blocked."),
    "scan_unavailable": ("ウイルス検査ができなかったため、遮断しました。",
                         "The file could not be scanned for malware, so it was blocked."),
    "scan_too_large": ("ウイルス検査できる大きさを超えるため、遮断しました。",
                       "The file is too large to be scanned for malware, so it was blocked."),
    "signatures_stale": ("ウイルス定義が古く検査できなかったため、遮断しました。",
                         "The malware signatures are out of date, so the file could not be scanned."),
    # parts of a mail that are not delivered (the notice names each)
    "blocked_type": ("危険な形式のため、取り除きました。", "It is of a dangerous type and was removed."),
    "limit_exceeded": ("処理の上限を超えるため、取り除きました。", "It exceeds a processing limit and was removed."),
    "sandbox_failure": ("安全に処理できなかったため、取り除きました。",
                        "It could not be processed safely and was removed."),
    "signed_opaque": ("署名の中に本文が包まれた形式（S/MIME）のため、検査できません。",
                      "Its content is wrapped inside a signature (S/MIME) and cannot be inspected."),
    "message_partial": ("分割して送られたメールの一部のため、組み立てられません。",
                        "It is one piece of a message sent in parts, which is not reassembled."),
    "external_body": ("本文がメールの外（URL など）にあるため、取りに行きません。",
                      "Its body lives outside the mail (a URL, ...), which is not fetched."),
    "tnef_rtf_body": ("Outlook のリッチテキスト形式の本文は読み取れないため、取り除きました。",
                      "An Outlook rich-text body cannot be read and was removed."),
    "too_many_parts": ("1 通のメールで扱える部分の数を超えたため、取り除きました。",
                       "The mail has more parts than the gateway handles; the rest were removed."),
    "mail_structure_truncated": ("入れ子が深すぎるか部分が多すぎるため、以降は読んでいません。",
                                 "The mail is nested too deeply or has too many parts: the rest was not read."),
    "mail_body_truncated": ("本文が長すぎるため、続きを省きました。", "The body is too long: the rest was left out."),
    "archive_link_skipped": ("ファイルではなくリンク（シンボリックリンク）のため、取り除きました。",
                             "It is a link (a symbolic link), not a file, and was removed."),
}

# finding code -> (Japanese, English): what was removed, converted or noticed
FINDINGS: dict[str, tuple[str, str]] = {
    # any file
    "extension_mismatch": ("拡張子が中身と違っていたため、中身に合う拡張子に直しました。",
                           "The extension did not match the content; the name now has the right one."),
    "rasterized": ("全ページを画像にして作り直しました（文字の選択や編集はできません）。",
                   "Every page was redrawn as an image (text can no longer be selected or edited)."),
    "raster_page_downscaled": ("大きすぎるページを縮小して画像にしました。",
                               "An oversized page was scaled down when it was drawn as an image."),
    # PDF
    "pdf_javascript_removed": ("PDF の JavaScript を取り除きました。", "JavaScript was removed from the PDF."),
    "pdf_open_action_removed": ("PDF を開いたときに自動で動く処理を取り除きました。",
                                "The action run when the PDF opens was removed."),
    "pdf_additional_actions_removed": ("PDF の操作に連動して動く処理を取り除きました。",
                                       "Actions triggered by events in the PDF were removed."),
    "pdf_action_removed": ("PDF の危険な動作（外部プログラムの起動、送信など）を取り除きました。",
                           "Risky PDF actions (launching programs, submitting forms, ...) were removed."),
    "pdf_external_link_removed": ("PDF の外部へのリンクを取り除きました。", "External links in the PDF were removed."),
    "pdf_embedded_file_removed": ("PDF に埋め込まれていたファイルを取り除きました。",
                                  "Files embedded in the PDF were removed."),
    "pdf_rich_media_removed": ("PDF の動画・Flash などのリッチメディアを取り除きました。",
                               "Rich media (video, Flash) in the PDF was removed."),
    "pdf_xfa_removed": ("PDF の XFA フォームを取り除きました。", "The XFA form in the PDF was removed."),
    "pdf_annotation_removed": ("PDF の注釈の一部を取り除きました。", "Some annotations of the PDF were removed."),
    "pdf_form_flattened": ("PDF の入力欄（フォーム）を、表示されている内容のまま固定しました（入力はできません）。",
                           "The PDF's form fields were fixed as they appear (they can no longer be filled in)."),
    "pdf_unknown_structure_removed": ("PDF の中の、形式を確認できない要素（未知の種類の画像・フォントなど）を"
                                      "取り除きました。表示が一部変わることがあります。",
                                      "Parts of the PDF whose kind could not be confirmed (unknown image, font or "
                                      "drawing types) were removed; some content may look different."),
    "pdf_encryption_removed": ("PDF の編集制限（所有者パスワード）を外して保存しました。",
                               "The PDF's owner-password restrictions were removed."),
    "pdf_image_removed": ("PDF の画像のうち、読み取れないもの・大きすぎるものを取り除きました。"
                          "表示が一部変わることがあります。",
                          "Pictures in the PDF that could not be decoded, or were too large, were removed; some pages "
                          "may look different."),
    # images
    "image_metadata_removed": ("画像の付加情報（撮影情報・位置情報など）を取り除きました。",
                               "Image metadata (camera data, location, ...) was removed."),
    "image_trailing_data_removed": ("画像の後ろに付け足されていたデータを取り除きました。",
                                    "Data appended after the image was removed."),
    # text, CSV, HTML
    "text_charset_converted": ("文字コードを UTF-8 に変換しました。", "The text was converted to UTF-8."),
    "text_undecodable_bytes_replaced": ("読めない文字を置き換えました。",
                                        "Bytes that could not be read as text were replaced."),
    "text_control_characters_removed": ("制御文字を取り除きました。", "Control characters were removed."),
    "html_converted_to_text": ("HTML をテキストに変換しました（スクリプトやフォームは含まれません）。",
                               "The HTML was converted to plain text (no scripts or forms)."),
    "csv_formula_neutralised": ("CSV の数式になりうるセルを文字列にしました（先頭に ' を付加）。",
                                "CSV cells that could run as formulas were made plain text (a ' in front)."),
    # Office (OOXML, legacy, RTF)
    "vba_macro_removed": ("マクロ（VBA）を取り除きました。", "Macros (VBA) were removed."),
    "excel4_macro_removed": ("Excel 4.0 マクロを取り除きました。", "Excel 4.0 macros were removed."),
    "activex_removed": ("ActiveX コントロールを取り除きました。", "ActiveX controls were removed."),
    "embedded_object_removed": ("埋め込まれたオブジェクト（OLE など）を取り除きました。",
                                "Embedded objects (OLE and the like) were removed."),
    "external_object_removed": ("外部のファイルにつながるオブジェクトを取り除きました。",
                                "Objects linked to outside files were removed."),
    "external_link_removed": ("外部へのリンク（他のファイルやサーバへの参照）を取り除きました。",
                              "Links to other files or servers were removed."),
    "remote_template_removed": ("外部のテンプレートへの参照を取り除きました。",
                                "A reference to a remote template was removed."),
    "dde_field_removed": ("他のプログラムを呼び出す DDE を取り除きました。",
                          "DDE (calling other programs) was removed."),
    "field_removed": ("外部の情報を読み込むフィールドを、最後の表示結果に置き換えました。",
                      "Fields that fetch outside content were replaced by their last shown result."),
    "excel_external_formula_removed": ("他のブックや外部を参照する数式を取り除きました（表示されていた値は残ります）。",
                                       "Formulas referring outside the workbook were removed (their values stay)."),
    "excel_active_formula_removed": ("危険な関数を使う数式を取り除きました（表示されていた値は残ります）。",
                                     "Formulas calling risky functions were removed (their values stay)."),
    "data_connection_removed": ("外部データへの接続を取り除きました。", "Connections to outside data were removed."),
    "custom_ui_removed": ("リボンなどの独自の画面定義を取り除きました。",
                          "Custom user interface (ribbon) definitions were removed."),
    "web_extension_removed": ("Office アドイン（Web 拡張）を取り除きました。",
                              "Office add-ins (web extensions) were removed."),
    "active_link_removed": ("クリックで動作するリンクを取り除きました。", "Links that run something were removed."),
    "document_variables_removed": ("文書変数を取り除きました。", "Document variables were removed."),
    "embedded_media_removed": ("埋め込まれた音声・動画を取り除きました。", "Embedded audio and video were removed."),
    "embedded_font_removed": ("埋め込みフォントを取り除きました（表示に使うフォントが変わることがあります）。",
                              "Embedded fonts were removed (the text may show in another font)."),
    "media_removed": ("作り直せなかった画像を取り除きました。", "Pictures that could not be re-encoded were removed."),
    "metafile_records_removed": ("図（EMF・WMF）から、描画に不要な命令（エスケープ、EMF+、色プロファイルなど）を"
                                 "取り除きました。表示が一部変わることがあります。",
                                 "Records a drawing does not need (escapes, EMF+, colour profiles, ...) were removed "
                                 "from Windows metafile pictures (EMF, WMF); some may look different."),
    "part_removed": ("許可されていない部品を取り除きました。", "Parts that are not allowed were removed."),
    "unreferenced_part_removed": ("どこからも使われていない部品を取り除きました。",
                                  "Parts nothing referred to were removed."),
    "unknown_markup_removed": ("未知の記述を取り除きました。", "Markup the gateway does not know was removed."),
    "macro_enabled_type_converted": ("マクロ有効形式を、マクロなしの形式（.docx・.xlsx など）に変えました。",
                                     "The macro-enabled file became its macro-free kind (.docx, .xlsx, ...)."),
    "legacy_format_converted": ("古い形式（.doc・.xls・.ppt など）を新しい形式に変換しました。",
                                "The legacy format (.doc, .xls, .ppt, ...) was converted to the current one."),
    "default_password_removed": ("Excel の既定パスワードによる暗号化を外しました。",
                                 "Excel's default-password encryption was removed."),
    # OpenDocument
    "macro_removed": ("マクロ（Basic・スクリプト）を取り除きました。", "Macros (Basic, scripts) were removed."),
    "script_event_removed": ("操作に連動して動くスクリプトを取り除きました。",
                             "Scripts attached to events were removed."),
    "script_link_removed": ("スクリプトを実行するリンクを取り除きました。", "Links that run scripts were removed."),
    "external_formula_removed": ("外部を参照する数式を取り除きました（表示されていた値は残ります）。",
                                 "Formulas referring outside were removed (their values stay)."),
    # archives
    "archive_member_removed": ("圧縮ファイルの中の一部のファイルを取り除きました。",
                               "Some files in the archive were left out."),
    "archive_path_sanitised": ("圧縮ファイルの中のファイル名を安全な名前に直しました。",
                               "File names in the archive were made safe."),
    "archive_link_skipped": ("圧縮ファイルの中のリンク（シンボリックリンクなど）を取り除きました。",
                             "Links inside the archive (symbolic links) were left out."),
    # mail
    "mail_charset_mislabelled": ("文字コードの表示が誤っていたため、正しく読み直しました。",
                                 "The declared character set was wrong; the text was read correctly."),
    "mail_charset_unknown": ("不明な文字コードを推定して読みました。", "An unknown character set was detected."),
    "mail_defects": ("メールの形式に誤りがありました（読める部分を取り出しました）。",
                     "The mail had format errors (what could be read was kept)."),
    "mail_header_truncated": ("長すぎるヘッダを切り詰めました。", "An over-long header was shortened."),
    "mail_structure_truncated": ("構造が大きすぎるため、メールの後半を読み込みませんでした。",
                                 "The mail's structure was too large; its end was not read."),
    "mail_body_truncated": ("長すぎる本文を切り詰めました。", "An over-long body was shortened."),
    "mail_header_dropped": ("読めないヘッダを取り除きました。", "An unreadable header was dropped."),
    "mail_address_dropped": ("正しくないメールアドレスを取り除きました。", "An invalid address was dropped."),
    "forwarded_message_inlined": ("転送されたメールを本文に取り込みました。",
                                  "A forwarded message was included in the body."),
    "tnef_unpacked": ("winmail.dat（TNEF）を展開しました。", "winmail.dat (TNEF) was unpacked."),
    "tnef_unreadable": ("winmail.dat（TNEF）を読めなかったため、取り除きました。",
                        "winmail.dat (TNEF) could not be read and was removed."),
    "signature_removed": ("電子署名を取り除きました。", "The signature was removed."),
    "encrypted_body": ("暗号化された本文は検査できないため、取り除きました。",
                       "An encrypted body cannot be inspected and was removed."),
    "encoded_file_removed": ("本文中の符号化されたファイルを切り取りました。",
                             "A file encoded in the body was cut out."),
    "iso2022jp_characters_replaced": ("ISO-2022-JP で送れない文字を置き換えました。",
                                      "Characters ISO-2022-JP cannot carry were replaced."),
    # antivirus (gateway/pipeline/scan.py)
    "malware_found": ("ウイルス（マルウェア）を検出しました。", "Malware was detected."),
    "scan_skipped_too_large": ("大きすぎるため、ウイルス検査をせずに無害化しました。",
                               "Too large to scan: it was disarmed without a malware scan."),
}

# finding code -> a short Japanese label, for the list of attachments in a mail's notice
FINDING_LABELS: dict[str, str] = {
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
    "pdf_form_flattened": "フォームを固定",
    "pdf_unknown_structure_removed": "不明な要素を削除",
    "pdf_image_removed": "読み取れない画像を削除",
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
    "metafile_records_removed": "図（EMF・WMF）の不要な命令を削除",
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

UNKNOWN_REASON = ("安全を確認できなかったため、遮断しました。", "It could not be proven safe, so it was blocked.")
UNKNOWN_FINDING = ("危険になりうる要素を処理しました。", "Something that could be risky was handled.")


def _pick(entry: tuple[str, str], language: Language) -> str:
    return entry[0] if language == "ja" else entry[1]


def reason_text(code: str | None, language: Language = "ja") -> str:
    """Why a file was blocked, in one plain sentence (the code of an unknown one stays visible to quote)."""
    entry = REASONS.get(code or "")
    if entry is None:
        return f"{_pick(UNKNOWN_REASON, language)} ({code or '-'})"
    return _pick(entry, language)


def finding_text(code: str, language: Language = "ja") -> str:
    """What was removed, converted or noticed, in one plain sentence."""
    entry = FINDINGS.get(code)
    if entry is None:
        return f"{_pick(UNKNOWN_FINDING, language)} ({code})"
    return _pick(entry, language)


# what the HTTP API answers when it refuses (detail: Japanese / English)
API_ERRORS: dict[str, tuple[str, str]] = {
    "login_throttled": ("ログインの失敗が多すぎます。しばらくしてからやり直してください。",
                        "too many failed logins from this address; try again later"),
    "token_required": ("有効なトークンが必要です。", "a valid bearer token is required"),
    "no_transfer": ("その転送はありません。", "no such transfer"),
    "no_output": ("そのファイルはありません。", "no such output"),
    "upload_too_large": ("アップロードは {limit} バイトまでです。", "uploads are limited to {limit} bytes"),
    "length_required": ("アップロードには Content-Length が必要です。", "uploads need a Content-Length"),
    "disk_short": ("ゲートウェイのディスクが不足しています。しばらくしてからやり直してください。",
                   "the gateway is short of disk space; try again later"),
    "busy": ("ゲートウェイが混み合っています。しばらくしてからやり直してください。",
             "the gateway is busy; try again later"),
    "multipart_required": ("ファイルは 'file' という名前のマルチパート項目で送ってください。",
                           "send the files as multipart fields named 'file'"),
    "upload_forbidden": ("このトークンではアップロードできません。", "this token may not upload"),
}


def api_error(key: str, **values: object) -> str:
    """The refusal's ``detail``: Japanese, then English (one string, as API clients read it)."""
    japanese, english = API_ERRORS[key]
    return f"{japanese.format(**values)} / {english.format(**values)}"


def reason_pair(code: str | None, fallback: str = "") -> tuple[str, str]:
    """(Japanese, English) for a reason code; an unknown code keeps the converter's own words."""
    entry = REASONS.get(code or "")
    if entry is not None:
        return entry
    return (f"{UNKNOWN_REASON[0]} ({code or '-'})", fallback or UNKNOWN_REASON[1])

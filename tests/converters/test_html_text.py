"""HTML mail bodies to text: what a reader needs stays, what could hide or act does not."""

from __future__ import annotations

from converters.html_text import defang_url, html_to_text


def test_visible_text_links_lists_tables_and_images_survive() -> None:
    html = ('<html><head><title>件名</title><style>p{color:red}</style></head><body>'
            '<p>令和８年度 &amp; ①㈱ <a href="https://www.example.jp/a">詳細</a></p>'
            '<ul><li>一つ目<li>二つ目</ul><table><tr><td>1<td>2</table><img alt="ロゴ"><br>末尾</body></html>')
    assert html_to_text(html) == ("令和８年度 & ①㈱ 詳細 (hxxps://www[.]example[.]jp/a)\n\n・一つ目\n・二つ目\n\n"
                                  "\t1\t2\n\n[画像: ロゴ]\n末尾\n")


def test_hidden_script_and_comment_content_is_dropped() -> None:
    html = ('<P STYLE="DISPLAY: NONE">隠し1</P><div hidden>隠し2</div><span style="font-size:0">隠し3</span>'
            '<script>alert(1)</script><!-- 隠し4 --><form><button>押す</button><textarea>隠し5</textarea></form>'
            '<span aria-hidden="true">隠し6</span>見える')
    assert html_to_text(html) == "見える\n"


def test_links_are_kept_as_is_when_defanging_is_off_and_scripts_never_shown() -> None:
    html = '<a href="http://a.example.jp/x">ここ</a> <a href="javascript:evil()">押す</a>'
    assert html_to_text(html, defang=False) == "ここ (http://a.example.jp/x) 押す\n"
    assert defang_url("ftp://files.example.jp/a.b") == "fxp://files[.]example[.]jp/a.b"


def test_malformed_and_hostile_markup_still_gives_text() -> None:
    assert html_to_text("<p>a\x00b<b>閉じない") == "ab閉じない\n"
    assert html_to_text("<div>" * 5000 + "深い" + "</div>" * 5000) == "深い\n"
    assert html_to_text("") == "\n"
    assert html_to_text("<<<>>>&#0;&#xD800;&bogus; テキスト") .endswith("テキスト\n")
    assert html_to_text("<pre>  字下げ\n  保持</pre>") == "字下げ\n保持\n"

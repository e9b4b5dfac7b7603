"""HTML mail bodies to text: what a reader needs stays, what could hide or act does not."""

from __future__ import annotations

from converters.formats.html_text import defang_url, html_to_text, neutralise_markup, neutralise_paths


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


def test_control_characters_made_by_character_references_are_removed() -> None:
    """Fuzz ed5f21a95349: "&#X1B" is an escape character only once decoded, after the old removal."""
    assert html_to_text("<ahref=>&#X1B") == "\n"
    assert html_to_text("<p>a&#x1b;b&#1;c&#x7F;d</p><a href='x&#x0b;y'>z</a>") == "abcd\nz (xy)\n"


def test_markup_that_decoding_or_a_link_brings_back_is_written_fullwidth() -> None:
    """Fuzz 9ce91599c6a9: "<a href=<html>" showed its target "<html" as the link's address."""
    assert html_to_text("<a href=<html>") == "(＜html)\n"
    assert html_to_text("<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;&#1;iframe&gt; &lt;!-- x --&gt;</p>") == (
        "＜script>alert(1)＜/script> ＜iframe> ＜!-- x -->\n")
    assert html_to_text("<p>&lt;taro@example.jp&gt; &lt;https://a.example.jp/&gt; 1 &lt; 2 &lt;重要&gt;</p>") == (
        "<taro@example.jp> <https://a.example.jp/> 1 < 2 <重要>\n")


def test_neutralise_markup_covers_case_folding_and_spaced_tags() -> None:
    cases = {"<ſcript>": "＜ſcript>", "< SCRIPT>": "＜ SCRIPT>", "<\u3000html>": "＜\u3000html>",
             "</ body>": "＜/ body>", "<?xml": "＜?xml", "<html@example.jp>": "＜html@example.jp>",
             "<aoki@example.jp>": "<aoki@example.jp>", "<mailto:a@b.jp>": "<mailto:a@b.jp>", "x<-y": "x<-y"}
    assert {text: neutralise_markup(text)[0] for text in cases} == cases


def test_only_web_and_mail_link_targets_are_shown_whatever_the_defang_setting() -> None:
    """A file: link, a UNC path, ms-msdt: or search-ms: shown as the target in the text was one
    click away in Outlook (it links them in plain text); "JavaScript:" in capitals was shown too."""
    html = ('<a href="\\\\198.51.100.7\\share\\請求書.exe">請求書</a> <a href="file:///C:/Windows/calc.exe">計算</a> '
            '<a href="ms-msdt:/id PCWDiagnostic /skip force">診断</a> <a href="search-ms:query=a&amp;crumb=location:'
            '\\\\198.51.100.7\\s">検索</a> <a href="//198.51.100.7/s">二重</a> <a href=" JavaScript:alert(1)">押す</a> '
            '<a href="fi&#x6c;e://host/x">実体</a> <a href="ht&#9;tp://198.51.100.7/">タブ</a>'
            '<a href="mailto:soumu@city.example.lg.jp">連絡</a> <a href="https://www.example.jp/">公式</a>')
    for defang in (True, False):
        text = html_to_text(html, defang=defang)
        assert "198.51.100.7" not in text and "calc" not in text and "alert" not in text and "PCW" not in text
        for scheme in ("UNC", "file", "ms-msdt", "search-ms", "http"):
            assert f"link removed: {scheme}]" in text
        assert "連絡 (mailto:soumu@city.example.lg.jp)" in text
    assert "公式 (hxxps://www[.]example[.]jp/)" in html_to_text(html)
    assert "公式 (https://www.example.jp/)" in html_to_text(html, defang=False)


def test_file_urls_and_unc_paths_written_as_text_are_not_links() -> None:
    assert neutralise_paths("共有 \\\\fs01\\共有\\資料.xlsx と FILE://198.51.100.7/a と file:\\\\h\\s") == (
        "共有 ＼＼fs01\\共有\\資料.xlsx と file[:]//198.51.100.7/a と file[:]＼＼h\\s")
    unchanged = "C:\\Users\\taro と a\\\\b と https://www.example.jp/file:x と profile: 田中"
    assert neutralise_paths(unchanged) == unchanged
    assert neutralise_paths(neutralise_paths("\\\\h\\s")) == "＼＼h\\s"

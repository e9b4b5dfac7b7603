"""The command line explains itself: a version, a description for every command and action, and
every flag with its help (and its default where it has one)."""

from __future__ import annotations

import argparse

import pytest

from gateway import __version__
from gateway.cli.main import _parser, main
from gateway.config import ServeSettings


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def every_parser() -> list[tuple[str, argparse.ArgumentParser]]:
    found, todo = [], [("gateway", _parser())]
    while todo:
        name, parser = todo.pop()
        found.append((name, parser))
        todo.extend((f"{name} {sub}", child) for sub, child in subparsers(parser).items())
    return found


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"gateway {__version__}"


@pytest.mark.parametrize(("name", "parser"), every_parser(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_command_and_flag_is_described(name: str, parser: argparse.ArgumentParser) -> None:
    assert parser.description, f"{name} has no description"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            assert all(choice.help for choice in action._choices_actions), f"{name}: an action without help"
        elif action.option_strings or action.dest not in ("help",):
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_audit_and_token_actions_have_their_own_help() -> None:
    found = dict(every_parser())
    texts = {name: found[name].format_help() for name in ("gateway audit verify", "gateway audit purge",
                                                             "gateway token create", "gateway token revoke")}
    assert len(set(texts.values())) == 4  # no longer one shared help for every action
    assert "--before" in texts["gateway audit purge"] and "--before" not in texts["gateway audit verify"]
    assert "--role" in texts["gateway token create"] and "--role" not in texts["gateway token revoke"]


def test_serve_has_a_flag_with_the_default_for_every_setting() -> None:
    text = dict(every_parser())["gateway serve"].format_help().replace("\n", " ")
    text = " ".join(text.split())
    for key, default in (("max_message_mb", 50), ("max_queue", 10000), ("smtp_timeout_seconds", 60.0)):
        assert f"--{key.replace('_', '-')}" in text
        assert f"(default: {default})" in text
    flags = {flag for action in dict(every_parser())["gateway serve"]._actions for flag in action.option_strings}
    assert {f"--{key.replace('_', '-')}" for key in ServeSettings.__dataclass_fields__} <= flags

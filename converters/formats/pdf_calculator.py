"""PostScript calculator functions (ISO 32000-2 7.10.5, FunctionType 4), kept only as a program of
numbers and the calculator's own operators, written anew from its tokens.

A calculator function is a small PostScript program that a reader runs to compute colours (shadings,
separations, transfer functions): its interpreter is a PostScript one, fed bytes from the file. The
rebuild keeps these functions - design programs write them for spot colours and gradients - but
only when the data reads as the language of table 42: braces, integers and reals, the operators
listed below, and a procedure only right before ``if`` (one) or ``ifelse`` (two); comments are
left out. Strings, names, arrays, dictionaries and every other PostScript operator (``run``, ``file``, ``exec``,
``def`` ...) make the function not written. What is written is the token list joined by spaces, so
no byte of the input's stream goes through as it was.
"""

from __future__ import annotations

import re

OPERATORS = frozenset({
    b"abs", b"add", b"atan", b"ceiling", b"cos", b"cvi", b"cvr", b"div", b"exp", b"floor", b"idiv", b"ln",
    b"log", b"mod", b"mul", b"neg", b"round", b"sin", b"sqrt", b"sub", b"truncate",
    b"and", b"bitshift", b"eq", b"false", b"ge", b"gt", b"le", b"lt", b"ne", b"not", b"or", b"true", b"xor",
    b"if", b"ifelse",
    b"copy", b"dup", b"exch", b"index", b"pop", b"roll"})
NUMBER = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TOKEN = re.compile(rb"[{}]|[^\x00\t\n\f\r {}]+")
COMMENT = re.compile(rb"%[^\r\n]*")  # to the end of the line (no string can hold a % here: strings are refused)
MAX_TOKENS = 100_000  # real functions are a few dozen tokens
MAX_DEPTH = 32  # procedures inside procedures (nested if / ifelse)


def _procedure(tokens: list[bytes], at: int, depth: int) -> int | None:
    """The position after the procedure that opens at ``at``, or None when it is not one."""
    if depth > MAX_DEPTH or at >= len(tokens) or tokens[at] != b"{":
        return None
    at += 1
    while at < len(tokens) and tokens[at] != b"}":
        if tokens[at] == b"{":
            end = _procedure(tokens, at, depth + 1)
            if end is None:
                return None
            second = _procedure(tokens, end, depth + 1) if end < len(tokens) and tokens[end] == b"{" else None
            after = end if second is None else second
            if after >= len(tokens) or tokens[after] != (b"if" if second is None else b"ifelse"):
                return None
            at = after + 1
        elif tokens[at] in (b"if", b"ifelse"):
            return None  # only right after its procedures
        elif tokens[at] in OPERATORS or NUMBER.fullmatch(tokens[at]):
            at += 1
        else:
            return None
    return at + 1 if at < len(tokens) else None


def calculator_program(data: bytes) -> bytes | None:
    """The program written anew from its tokens, or None when it is not one of the calculator's."""
    tokens = TOKEN.findall(COMMENT.sub(b" ", data))
    if not tokens or len(tokens) > MAX_TOKENS:
        return None
    end = _procedure(tokens, 0, 0)
    if end != len(tokens):
        return None
    return b" ".join(tokens)

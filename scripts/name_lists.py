"""What the name-list generators (odf_element_names.py, ooxml_element_names.py) share: writing
one ``namespace -> frozenset of names`` table as Python source, sorted and wrapped."""

from __future__ import annotations


def frozenset_table(names: dict[str, set[str]]) -> list[str]:
    """A dict literal's body: per namespace, a frozenset of its names split from a triple-quoted string."""
    lines = []
    for uri in sorted(names):
        if not names[uri]:
            lines.append(f'    "{uri}": frozenset(),')
            continue
        lines.append(f'    "{uri}": frozenset("""')
        line = "       "
        for word in sorted(names[uri]):
            if len(line) + len(word) + 1 > 110:
                lines.append(line)
                line = "       "
            line += " " + word
        lines += [line, '    """.split()),']
    return lines

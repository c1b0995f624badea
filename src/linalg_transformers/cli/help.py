"""Help text of the ``linalg-transformers`` subcommands: wrapped prose, examples kept as written."""

from __future__ import annotations

import argparse
import textwrap

__all__ = ["HelpFormatter"]


class HelpFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description or epilog to the terminal, except paragraphs with indented lines.

    A subcommand's epilog can then hold ``examples:`` followed by indented command lines, which stay one per line
    (argparse's `RawDescriptionHelpFormatter` would keep every line of the description unwrapped too).
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.strip("\n").split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(
                    textwrap.fill(" ".join(lines), width, initial_indent=indent, subsequent_indent=indent)
                )
        return "\n\n".join(paragraphs)

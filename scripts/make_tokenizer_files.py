"""Regenerate `tokenizer_files/`: the saved `MatrixTokenizer` of each standard setup.

Usage: python scripts/make_tokenizer_files.py [--output tokenizer_files]

`tests/test_tokenization.py` regenerates them into a temporary folder and fails if they drift from the code.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from linalg_transformers.tokenization_matrix import STANDARD_TOKENIZERS, MatrixTokenizer


def write_tokenizer_files(output: Path) -> list[Path]:
    """Save one tokenizer folder per standard setup under `output`; returns the folders."""
    folders = []
    for folder, (input_encoding, output_encoding) in STANDARD_TOKENIZERS.items():
        tokenizer = MatrixTokenizer(input_encoding=input_encoding, output_encoding=output_encoding)
        tokenizer.save_pretrained(output / folder)
        folders.append(output / folder)
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parents[1] / "tokenizer_files")
    args = parser.parse_args()
    for folder in write_tokenizer_files(args.output):
        print(f"wrote {folder}")


if __name__ == "__main__":
    main()

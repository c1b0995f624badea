"""Convert a checkpoint of the reference code (facebookresearch/LAWT) into a Hugging Face model folder.

    python training/convert_lawt_checkpoint.py --checkpoint best-valid_numeric_beam_acc.pth --output converted/

The folder loads with `AutoModel.from_pretrained(DIR)` (a model that can `generate()`) and
`AutoTokenizer.from_pretrained(DIR)` (the reference vocabulary order, `<s> ... <s>` framing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from linalg_transformers.convert_lawt import convert_lawt_checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert a reference (LAWT) checkpoint to a Hugging Face folder.")
    parser.add_argument("--checkpoint", required=True, type=Path, help="the reference .pth file")
    parser.add_argument("--output", required=True, type=Path, help="folder to write (created if needed)")
    args = parser.parse_args(argv)
    if not args.checkpoint.is_file():
        parser.error(f"no such checkpoint file: {args.checkpoint}")
    try:
        model = convert_lawt_checkpoint(args.checkpoint, args.output)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    config = model.config
    print(
        f"converted {args.checkpoint} -> {args.output}: {model.num_parameters():,} parameters, "
        f"{config.encoder_layers}/{config.decoder_layers} layers, width {config.d_model}/{config.decoder_d_model}, "
        f"vocabulary {config.vocab_size}, problem {config.training_problem}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

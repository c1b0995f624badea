"""Registration of the model classes with the transformers Auto classes.

The workarounds it needs: docs/model.md#hugging-face-stack-what-the-code-works-around.
"""

from __future__ import annotations

from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM

from .configuration_matrix_seq2seq import MatrixSeq2SeqConfig
from .modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration

__all__ = ["register_model_classes"]


def register_model_classes() -> None:
    """Make `AutoConfig`, `AutoModel` and `AutoModelForSeq2SeqLM` know the `matrix_seq2seq` model type.

    `AutoModel` maps to `MatrixSeq2SeqForConditionalGeneration`, not to the bare `MatrixSeq2SeqModel`: users load a
    checkpoint with `AutoModel.from_pretrained(...)` and expect it to `generate()`.

    The classes are also registered for remote code, so `save_pretrained` copies `configuration_matrix_seq2seq.py`
    and `modeling_matrix_seq2seq.py` next to the weights and writes `auto_map` (with `AutoConfig`, `AutoModel` and
    `AutoModelForSeq2SeqLM`) into config.json: the saved folder then loads with `trust_remote_code=True` where this
    package is not installed. Calling this function again is harmless.
    """
    AutoConfig.register(MatrixSeq2SeqConfig.model_type, MatrixSeq2SeqConfig, exist_ok=True)
    AutoModel.register(MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration, exist_ok=True)
    AutoModelForSeq2SeqLM.register(MatrixSeq2SeqConfig, MatrixSeq2SeqForConditionalGeneration, exist_ok=True)
    MatrixSeq2SeqConfig.register_for_auto_class("AutoConfig")
    MatrixSeq2SeqForConditionalGeneration.register_for_auto_class("AutoModelForSeq2SeqLM")

"""linalg-transformers: seq2seq transformers that learn linear algebra on tokenized numbers.

Importing the package registers the `matrix_seq2seq` model type with `AutoConfig`, `AutoModel`,
`AutoModelForSeq2SeqLM` and `AutoTokenizer`, and the pipeline tasks (``matrix-eigen``, ...) with `PIPELINE_REGISTRY`.
"""

from transformers import AutoTokenizer

from ._registration import register_model_classes
from .configuration_matrix_seq2seq import MatrixSeq2SeqConfig
from .encodings import available_encodings, get_encoding, register_encoding
from .modeling_matrix_seq2seq import MatrixSeq2SeqForConditionalGeneration, MatrixSeq2SeqModel
from .tokenization_matrix import MatrixTokenizer

__version__ = "0.1.0"

register_model_classes()
AutoTokenizer.register(MatrixSeq2SeqConfig, tokenizer_class=MatrixTokenizer, exist_ok=True)

__all__ = [
    "MatrixSeq2SeqConfig",
    "MatrixSeq2SeqForConditionalGeneration",
    "MatrixSeq2SeqModel",
    "MatrixTokenizer",
    "available_encodings",
    "get_encoding",
    "register_encoding",
    "__version__",
]

# Problems, fixed test sets and the matrix_accuracy metric.
from .metrics import load_matrix_accuracy  # noqa: E402
from .problems import available_problems, get_problem, register_problem, test_set, to_dataset  # noqa: E402

__all__ += ["available_problems", "get_problem", "load_matrix_accuracy", "register_problem", "test_set", "to_dataset"]

# Pipelines: importing the module registers the tasks with PIPELINE_REGISTRY.
from .pipeline_matrix import PIPELINES, MatrixPipeline  # noqa: E402

__all__ += ["MatrixPipeline", "PIPELINES"]

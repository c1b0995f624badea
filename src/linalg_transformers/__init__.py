"""linalg-transformers: seq2seq transformers that learn linear algebra on tokenized numbers."""

from .encodings import available_encodings, get_encoding, register_encoding

__version__ = "0.1.0"

__all__ = ["available_encodings", "get_encoding", "register_encoding", "__version__"]

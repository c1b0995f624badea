"""Gradio widget of the matrix_accuracy metric (a Hugging Face Space).

Paste predictions and references as JSON lists (matrices as nested lists, or token strings with an encoding).
``linalg-transformers publish-metric`` copies this file into the Space unchanged, next to the evaluate module (named
after the Space); run it here with ``python app.py`` to try the widget locally. It builds its own interface:
evaluate's ``launch_gradio_widget`` uses the input components gradio 4 removed.
"""

import json
from pathlib import Path

import evaluate
import gradio as gr


def module_file() -> Path:
    """The evaluate module next to this app: the one other Python file of its folder."""
    here = Path(__file__).resolve().parent
    candidates = [p for p in sorted(here.glob("*.py")) if p.name not in ("app.py", "__init__.py")]
    if len(candidates) != 1:
        raise RuntimeError(
            f"expected one evaluate module next to app.py in {here}; found {[p.name for p in candidates]}"
        )
    return candidates[0]


module = evaluate.load(str(module_file()))


def compute(predictions: str, references: str, problem: str, encoding: str, inputs: str) -> dict:
    """Score JSON-encoded predictions against references with the problem's own check."""
    kwargs = {"problem": problem}
    if encoding:
        kwargs["encoding"] = encoding
    if inputs.strip():
        kwargs["inputs"] = json.loads(inputs)
    return module.compute(predictions=json.loads(predictions), references=json.loads(references), **kwargs)


demo = gr.Interface(
    fn=compute,
    inputs=[
        gr.Textbox(label="predictions (JSON list)", value="[[3.0, 1.0]]"),
        gr.Textbox(label="references (JSON list)", value="[[3.0, 1.01]]"),
        gr.Textbox(label="problem", value="eigenvalues"),
        gr.Textbox(label="encoding of token strings (P10, P1000, B1999, FP15; empty for numbers)", value=""),
        gr.Textbox(label="inputs (JSON list; needed for eigenvectors, svd, inverse)", value=""),
    ],
    outputs=gr.JSON(label="matrix_accuracy"),
    title="Metric: matrix_accuracy",
    description=module.info.description,
)

if __name__ == "__main__":
    demo.launch()

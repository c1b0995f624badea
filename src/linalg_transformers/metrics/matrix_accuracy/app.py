"""Gradio widget of the metric, for a Hugging Face Space (the evaluate convention)."""

import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("linalg/matrix_accuracy")
launch_gradio_widget(module)

"""The training engine: reward functions, prompts, stage merging, task families and model loading.

Importing this package is cheap: nothing here pulls in torch, transformers or trl until a function that
needs them runs.
"""

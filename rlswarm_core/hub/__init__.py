"""Publishing checkpoints to the Hugging Face Hub: upload plans, model cards, pushes and the auto-push worker.

Only :mod:`rlswarm_core.hub.shards` needs torch (to consolidate per-rank shards); everything else imports
``huggingface_hub`` lazily, so the CLI stays fast.
"""

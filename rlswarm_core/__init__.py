"""rlswarm engine: identities, settings, swarm, training and chain clients for RL Swarm nodes.

Nothing in this package prints or depends on the CLI; heavy libraries (torch, transformers, trl,
hivemind, web3) are imported only inside the code paths that need them.
"""

__version__ = "0.1.0"

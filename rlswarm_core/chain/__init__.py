"""On-chain coordinator: the SwarmCoordinator contract's client in wallet and proxy modes.

Nothing here imports web3 at module level; the modules that need it import it inside functions so that
``import rlswarm_core.chain`` stays cheap.
"""

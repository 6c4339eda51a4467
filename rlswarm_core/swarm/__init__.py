"""The swarm engine: a hivemind DHT node, signed and validated records, the round/stage clock and the
exchange of outputs, rewards and leaderboards between peers.

hivemind is imported only inside this package, and only by the modules that talk to the DHT, so that
importing ``rlswarm_core`` stays fast.
"""

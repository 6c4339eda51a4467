"""Reading rewards: from a node's own journal, from the DHT or from the chain."""

"""Who a node is: libp2p RSA keys in hivemind's identity format, peer ids and the three-word animal names."""

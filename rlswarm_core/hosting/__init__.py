"""Hosting a community swarm: the swarm file, deploying its coordinator, serving its bootnodes and
stage manager, and the checks a joining node makes against the file."""

"""A local, read-only web dashboard over the instances' journals, supervisor state and leaderboards."""

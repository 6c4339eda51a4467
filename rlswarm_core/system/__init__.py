"""The machine and the filesystem: hardware detection, platform folders, shipped data and child processes."""

"""Several nodes on one machine: instance records, a resource planner and a process supervisor."""

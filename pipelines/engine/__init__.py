"""The engine: the stage shape, the planner, execution (local and Ray), units, resume and commits."""

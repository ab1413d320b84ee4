"""Exports into other projects' training layouts (UnSAMv2, LG-MOT), each read by its own loader."""

"""Verifiers: does a generated phrase or description say what its mask shows?"""

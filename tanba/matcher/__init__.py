"""Matcher stage: compares fingerprints with the registered works and raises alerts."""

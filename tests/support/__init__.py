"""Helpers shared by Tanba's tests (servers, fixtures); never imported by Tanba itself."""

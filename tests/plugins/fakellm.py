"""Fixtures for the fake LLM server (tests/fakellm/)."""

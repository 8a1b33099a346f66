"""Harnesses that run the real bot (in-process or as a process) against the service fakes."""

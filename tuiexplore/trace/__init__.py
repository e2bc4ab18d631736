"""Stepping the user's own programs at their socket syscalls, with ptrace (see shared/notes/ptrace.md)."""

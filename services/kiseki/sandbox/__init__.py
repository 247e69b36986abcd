"""Runs generated code (code_exec) in separate, limited processes, never in a service's."""

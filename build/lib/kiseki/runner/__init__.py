"""The task-runner: a consumer-group member that scores evaluation jobs against endpoints."""

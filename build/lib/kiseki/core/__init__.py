"""Shared plumbing for every service: config, logging, health, metrics, gRPC, Kafka, store."""

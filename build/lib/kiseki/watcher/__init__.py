"""The watcher: finds complete checkpoints of live runs and publishes them to Kafka."""

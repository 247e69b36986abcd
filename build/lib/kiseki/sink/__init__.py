"""The sink: the store's single writer, fed by the results, status and checkpoints topics."""

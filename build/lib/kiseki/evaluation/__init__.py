"""Pure evaluation logic: datasets, prompts, post-processing, metrics, aggregation."""

"""Real servers started as local processes: the embedded defaults and the test fixtures.

Tansu and Apache Kafka (brokers), tritonserver (inference). Their binaries are installed by
`make setup` into the cache directory; see tools/versions.env.
"""

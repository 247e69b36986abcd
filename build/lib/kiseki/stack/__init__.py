"""`kiseki up`: every service as a supervised local process on the embedded defaults.

It sits above the services (it reads their policy and starts them); the launchers of the
servers it needs (brokers, tritonserver) live below serving, in kiseki.local.
"""

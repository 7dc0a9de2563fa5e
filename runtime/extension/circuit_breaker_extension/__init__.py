"""The circuit-breaker Lambda extension: a separate process in every execution environment.

It keeps the function's circuits in a TTL cache over the shared DynamoDB table and serves
them to the function over loopback HTTP (``http_api``); ``service`` glues the cache, the
store and the state machine; ``lifecycle`` talks to the Lambda Extensions API. Nothing here
imports boto3 before the extension has registered (see ``sdk``), so registering stays fast.
"""

"""Circuit-breaker logic shared by the extension, the checker, the local stack and the tests.

``machine`` (the state machine) and ``cache`` (the TTL cache) are pure standard library;
``item`` converts records to DynamoDB items and ``store`` persists them with conditional writes.
"""

"""The CrossGuard policy pack (``__main__.py`` serves it; ``circuit_breaker_policies`` holds the policies).

A regular package, so ``policy.circuit_breaker_policies`` always resolves here and never merges
with another folder named ``policy`` on the path (such as ``tests/policy``).
"""

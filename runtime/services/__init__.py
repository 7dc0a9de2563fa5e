"""The protected services: the mock microservice (``mock``) and the business function
that calls it through the circuit breaker (``business``). Standard library and boto3 only."""

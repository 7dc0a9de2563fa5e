"""AWS stand-ins that let the fleet run on one machine without an account (never shipped to Lambda).

``dynamodb`` serves DynamoDB on loopback; ``emulator`` runs a Lambda execution environment
(Runtime API and Extensions API on loopback, served by ``lambda_api`` and ``lambda_api_http``)
so that the real extension and AWS's runtime interface client run as real processes with
their real lifecycle.
"""

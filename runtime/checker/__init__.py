"""The scheduled checker: probes one service per invocation and moves its circuit.

``config`` validates the schedule's input, ``httpcall`` (shared with the business function)
makes the HTTP call, ``report`` turns the
result into the summary, the log line and the CloudWatch metrics, and ``handler`` (the Lambda
entry point ``checker.handler.handler``) wires them to the state machine and the table.
"""

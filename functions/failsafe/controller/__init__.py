"""The rollback controller's service layer: what each Lambda handler calls.

Handlers (`failsafe.handlers`) parse events and build a `Runtime`; the functions here combine the pure
domain (`failsafe.domain`: plans, lifecycle, catalog) with the AWS adapters (`failsafe.aws`).
"""

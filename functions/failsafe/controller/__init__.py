"""The rollback controller's service layer: what each Lambda handler calls.

Handlers (`failsafe.handlers`) parse events and build a `Runtime`. The use cases here depend on the
`Ports` it satisfies (`controller.ports`) and combine the pure domain (`failsafe.domain`: plans, records,
lifecycle, catalog) with whatever implements the ports: the AWS adapters (`failsafe.aws`) in the functions,
in-memory fakes in the unit tests.
"""

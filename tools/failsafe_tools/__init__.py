"""Tools around failsafe that never ship in a Lambda package: the embedded local AWS, the CLI, drills."""

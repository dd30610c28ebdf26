"""One contract suite per port, run against the in-memory fake (tests/unit/contracts) and against the
moto-backed AWS adapter (tests/integration/contracts): a fake that drifts from its adapter fails here."""

"""The reference recommender: honours `failsafe.client` decisions and emits the guardrail EMF metrics.

    from failsafe.client import FileSource, ToggleClient
    from failsafe.recommender import Recommender

    client = ToggleClient(FileSource("toggles.json"), service="recommender", environment="dev").start()
    recommender = Recommender(client, service="recommender", environment="dev")
    response = recommender.recommend({"user_id": "u00042", "region": "eu-west-1", "k": 10})

Modules: `catalog` (deterministic synthetic data), `ranking` (scoring modes and the A-D fallback
pipeline), `service` (`Recommender`), `models` (request/response), `emf` (the metric documents),
`chaos` (fault injection for drills), `settings` and `handler` (the Lambda,
``failsafe.recommender.handler.handler``).
"""

from failsafe.recommender.chaos import ChaosConfig, ChaosControl
from failsafe.recommender.models import RecommendationRequest, RecommendationResponse, ResponseItem
from failsafe.recommender.service import Recommender, Served

__all__ = [
    "ChaosConfig",
    "ChaosControl",
    "RecommendationRequest",
    "RecommendationResponse",
    "Recommender",
    "ResponseItem",
    "Served",
]

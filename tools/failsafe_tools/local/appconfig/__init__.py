"""Local AWS AppConfig for failsafe's embedded AWS (issue 3, piece 3).

moto 5.2.5 has AppConfig applications, configuration profiles and hosted versions. This package
adds, in moto's own backend + responses + urls style:

- environments with monitors, deployment strategies (LINEAR/EXPONENTIAL, duration, final bake,
  the predefined AppConfig.* strategies), deployments that progress on the local clock and roll back
  when a monitor alarm is in ALARM, StopDeployment (ROLLED_BACK, REVERTED), one deployment at a time
  per environment (ConflictException), JSON_SCHEMA and LAMBDA validators;
- the `appconfigdata` data plane (StartConfigurationSession, GetLatestConfiguration);
- an agent-compatible HTTP endpoint (`AppConfigAgent`).

Usage::

    from failsafe_tools.local.appconfig import install, tick, start_agent
    install()                      # idempotent; before mock_aws() or a ThreadedMotoServer serves AppConfig
    with mock_aws():
        ...                        # boto3 appconfig / appconfigdata, Powertools get_app_config, FeatureFlags
        tick()                     # advance deployments to get_clock().time() (reads do this lazily too)
        agent = start_agent()      # agent.url -> http://127.0.0.1:<port>; agent.stop()
"""

from .agent import AppConfigAgent, start_agent
from .install import MotoHookError, check_moto_hooks, install, is_installed
from .models import FailsafeAppConfigBackend, tick
from .rollout import rollout_steps, session_bucket

__all__ = [
    "AppConfigAgent",
    "FailsafeAppConfigBackend",
    "MotoHookError",
    "check_moto_hooks",
    "install",
    "is_installed",
    "rollout_steps",
    "session_bucket",
    "start_agent",
    "tick",
]

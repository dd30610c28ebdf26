"""Register the local AppConfig into moto, for `mock_aws()` in-process and for moto's server mode.

Every moto internal this package relies on is checked on every `install()` call; if a moto release
renames or reshapes one of them, `install()` raises `MotoHookError` naming it instead of failing
obscurely later. Tested against moto 5.2.5 (pyproject pins >=5.2.5,<5.3).
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable
from typing import Any, cast

APPCONFIGDATA_HOST_PATTERN = r"https?://appconfigdata\.(.+)\.amazonaws\.com"

_lock = threading.Lock()


class MotoHookError(RuntimeError):
    """A moto internal that failsafe_tools.local.appconfig hooks into is missing or changed shape."""


def _require(condition: bool, hook: str, detail: str) -> None:
    if not condition:
        raise MotoHookError(
            f"failsafe_tools.local.appconfig cannot hook into moto: {hook} ({detail}). The installed moto "
            "changed an internal this package depends on (see failsafe/local/appconfig/install.py)"
        )


def _stores_attribute(func: Callable[..., Any], attribute: str) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and attribute in code.co_names


def check_moto_hooks() -> None:
    """Assert every moto internal used by this package exists with the shape it is used with."""
    _check_url_index()
    _check_appconfig_service()
    _check_routing_and_serialization()
    _check_cloudwatch_and_lambda()
    _check_server_mode()


def _check_url_index() -> None:
    from moto import backend_index

    # 1. URL index: botocore_stubber (in-process) matches request URLs against this list.
    patterns = getattr(backend_index, "backend_url_patterns", None)
    _require(isinstance(patterns, list), "moto.backend_index.backend_url_patterns", "expected a mutable list")
    assert isinstance(patterns, list)
    _require(
        all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], re.Pattern) for p in patterns),
        "moto.backend_index.backend_url_patterns",
        "expected (service, compiled pattern) pairs",
    )
    _require(
        any(service == "appconfig" for service, _ in patterns),
        "moto.backend_index.backend_url_patterns",
        "no 'appconfig' entry",
    )
    from moto.core import botocore_stubber

    _require(
        _stores_attribute(botocore_stubber.BotocoreStubber.process_request, "backend_url_patterns")
        and _stores_attribute(botocore_stubber.BotocoreStubber.process_request, "urls"),
        "moto.core.botocore_stubber.BotocoreStubber.process_request",
        "no longer routes through backend_index.backend_url_patterns and backend.urls",
    )


def _check_appconfig_service() -> None:
    from moto import backends as moto_backends

    # 2. moto's appconfig service: backend class, its BackendDict, its routes and models.
    from moto.appconfig import models as ac_models
    from moto.appconfig import responses as ac_responses
    from moto.appconfig import urls as ac_urls
    from moto.core.base_backend import AccountSpecificBackend, BackendDict, BaseBackend
    from moto.core.models import DEFAULT_ACCOUNT_ID

    _require(
        isinstance(getattr(ac_models, "appconfig_backends", None), BackendDict),
        "moto.appconfig.models.appconfig_backends",
        "expected a BackendDict",
    )
    _require(
        inspect.isclass(getattr(ac_models, "AppConfigBackend", None))
        and issubclass(ac_models.AppConfigBackend, BaseBackend),
        "moto.appconfig.models.AppConfigBackend",
        "expected a BaseBackend subclass",
    )
    _require(
        moto_backends.get_backend("appconfig") is ac_models.appconfig_backends,
        "moto.backends.get_backend('appconfig')",
        "does not return moto.appconfig.models.appconfig_backends",
    )
    _require(
        hasattr(ac_models.appconfig_backends, "backend"),
        "moto.core.base_backend.BackendDict.backend",
        "the backend class attribute is gone",
    )
    _require(
        callable(getattr(BackendDict, "iter_backends", None)),
        "moto.core.base_backend.BackendDict.iter_backends",
        "tick() walks every account/region backend with it",
    )
    _require(
        "backend" in inspect.signature(AccountSpecificBackend.__init__).parameters,
        "moto.core.base_backend.AccountSpecificBackend(backend=...)",
        "per-account backends no longer take the backend class",
    )
    _require(
        isinstance(getattr(ac_urls, "url_bases", None), list)
        and isinstance(getattr(ac_urls, "url_paths", None), dict),
        "moto.appconfig.urls.url_bases/url_paths",
        "expected a list and a dict",
    )
    _require(
        inspect.isclass(getattr(ac_responses, "AppConfigResponse", None)),
        "moto.appconfig.responses.AppConfigResponse",
        "missing",
    )
    probe = ac_models.AppConfigBackend("us-east-1", DEFAULT_ACCOUNT_ID)
    _require(
        isinstance(getattr(probe, "applications", None), dict), "AppConfigBackend.applications", "not a dict"
    )
    try:
        app = probe.create_application("probe", None, {})
        profile = probe.create_configuration_profile(
            app.id, "probe", "", "hosted", "", [], "AWS.Freeform", {}
        )
        version = probe.create_hosted_configuration_version(
            app.id, profile.id, "", "{}", "application/json", "v1"
        )
    except Exception as exc:  # signature changes surface here
        raise MotoHookError(
            f"failsafe_tools.local.appconfig cannot hook into moto: AppConfigBackend API changed ({exc})"
        ) from exc
    for obj, attrs in (
        (app, ("id", "name", "config_profiles")),
        (profile, ("id", "name", "location_uri", "validators", "config_versions")),
        (version, ("content", "content_type", "version_label")),
    ):
        for attr in attrs:
            _require(
                hasattr(obj, attr), f"moto.appconfig.models.{type(obj).__name__}.{attr}", "attribute missing"
            )
    _require(callable(getattr(probe, "tag_resource", None)), "AppConfigBackend.tag_resource", "missing")


def _check_routing_and_serialization() -> None:
    from moto.core.base_backend import BaseBackend

    # 3. Routing from a backend's _url_module, and moto's model-driven request parsing/serialization.
    _require(
        isinstance(inspect.getattr_static(BaseBackend, "_url_module", None), property)
        and _stores_attribute(BaseBackend.urls.fget, "_url_module")  # type: ignore[attr-defined]
        and _stores_attribute(BaseBackend.url_paths.fget, "_url_module"),  # type: ignore[attr-defined]
        "moto.core.base_backend.BaseBackend._url_module",
        "urls/url_paths are no longer derived from the backend's _url_module",
    )
    from moto.core import exceptions as core_exceptions
    from moto.core import responses as core_responses

    for name in ("ActionResult", "EmptyResult", "BaseResponse"):
        _require(hasattr(core_responses, name), f"moto.core.responses.{name}", "missing")
    _require(hasattr(core_exceptions, "ServiceException"), "moto.core.exceptions.ServiceException", "missing")
    _require(
        hasattr(core_responses.BaseResponse(service_name="appconfig"), "automated_parameter_parsing"),
        "moto.core.responses.BaseResponse.automated_parameter_parsing",
        "missing",
    )


def _check_cloudwatch_and_lambda() -> None:
    # 4. Monitors read alarm state from moto's CloudWatch backend.
    from moto.cloudwatch import models as cw_models
    from moto.core.base_backend import BackendDict
    from moto.core.models import DEFAULT_ACCOUNT_ID

    _require(
        isinstance(getattr(cw_models, "cloudwatch_backends", None), BackendDict),
        "moto.cloudwatch.models.cloudwatch_backends",
        "expected a BackendDict",
    )
    _require(
        isinstance(
            getattr(cw_models.CloudWatchBackend("us-east-1", DEFAULT_ACCOUNT_ID), "alarms", None), dict
        ),
        "moto.cloudwatch.models.CloudWatchBackend.alarms",
        "expected a dict of alarm name -> Alarm",
    )
    _require(
        _stores_attribute(cw_models.Alarm.__init__, "state_value"),
        "moto.cloudwatch.models.Alarm.state_value",
        "alarms no longer carry state_value",
    )

    # 5. Lambda validators are invoked through moto's Lambda backend.
    from moto.awslambda import models as lambda_models

    _require(
        isinstance(getattr(lambda_models, "lambda_backends", None), BackendDict),
        "moto.awslambda.models.lambda_backends",
        "expected a BackendDict",
    )
    invoke = getattr(lambda_models.LambdaBackend, "invoke", None)
    _require(
        callable(invoke)
        and list(inspect.signature(invoke).parameters)[:6]
        == ["self", "function_name", "qualifier", "body", "headers", "response_headers"],
        "moto.awslambda.models.LambdaBackend.invoke",
        "expected invoke(function_name, qualifier, body, headers, response_headers)",
    )


def _check_server_mode() -> None:
    import botocore.session

    # 6. Server mode: moto's dispatcher routes by signing name; AppConfig Data signs as "appconfig".
    signing = botocore.session.get_session().get_service_model("appconfigdata").metadata.get("signingName")
    _require(
        signing == "appconfig", "botocore appconfigdata signingName", f"is {signing!r}, expected 'appconfig'"
    )
    try:
        from moto.moto_server import werkzeug_app
    except ImportError:  # moto[server] not installed: in-process mode only
        return
    _require(
        _stores_attribute(werkzeug_app.DomainDispatcherApplication.__init__, "backend_url_patterns")
        # `failsafe_tools.local.api_errors` wraps the factory; `__wrapped__` is moto's own
        and _stores_attribute(
            getattr(werkzeug_app.create_backend_app, "__wrapped__", werkzeug_app.create_backend_app),
            "flask_paths",
        ),
        "moto.moto_server.werkzeug_app",
        "the server no longer routes through backend_url_patterns and backend.flask_paths",
    )


class _State:
    installed = False


def install() -> None:
    """Make moto serve the local AppConfig. Idempotent; safe before or inside `mock_aws()`.

    Call it before the first AppConfig request reaches a moto server (moto caches one Flask app per
    service on first use).
    """
    check_moto_hooks()
    from moto import backend_index
    from moto.appconfig.models import appconfig_backends

    from .models import FailsafeAppConfigBackend

    with _lock:
        patterns = backend_index.backend_url_patterns
        if not any(p.pattern == APPCONFIGDATA_HOST_PATTERN for _, p in patterns):
            index = next(i for i, (service, _) in enumerate(patterns) if service == "appconfig")
            patterns.insert(index + 1, ("appconfig", re.compile(APPCONFIGDATA_HOST_PATTERN)))
        appconfig_backends.backend = FailsafeAppConfigBackend
        for account_backends in appconfig_backends.values():
            account_backends.backend = FailsafeAppConfigBackend
            for backend in account_backends.values():
                if not isinstance(backend, FailsafeAppConfigBackend):
                    backend.__class__ = FailsafeAppConfigBackend
                    upgraded = cast(FailsafeAppConfigBackend, backend)
                    upgraded._init_failsafe_state()
        probe = FailsafeAppConfigBackend("us-east-1", "123456789012")
        _require(
            any("/environments" in url for url in probe.urls)
            and any("appconfigdata" in url for url in probe.urls)
            and any("configurationsessions" in path for path in probe.flask_paths),
            "BaseBackend.urls/flask_paths",
            "the added routes did not reach moto's URL tables",
        )
        _State.installed = True


def is_installed() -> bool:
    return _State.installed

"""structlog set up once per process: JSON off a terminal, pretty on one.

Stdlib records (Temporal's, uvicorn's) go through the same processors via `ProcessorFormatter`,
so an operator reads one format whichever library wrote the line.
"""

from __future__ import annotations

import logging
import sys

import structlog
from temporalio import activity

from core.settings import Settings


def configure_logging(settings: Settings) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.ExtraAdder(allow=("temporal_workflow", "temporal_activity")),
        add_temporal_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    pretty = settings.log_format == "console" or (settings.log_format == "auto" and sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if pretty else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if not pretty else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


# Temporal's loggers attach these as `extra` dicts; an operator greps flat keys.
_TEMPORAL_KEYS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_type": "activity_type",
    "activity_id": "activity_id",
    "attempt": "attempt",
}


def add_temporal_context(
    _logger: object, _name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Workflow id, run id and activity type on every line written inside an activity, and on
    Temporal's own records (from their `temporal_workflow` / `temporal_activity` extras)."""
    for key in ("temporal_workflow", "temporal_activity"):
        extra = event_dict.pop(key, None)
        if isinstance(extra, dict):
            for k, v in extra.items():
                if k in _TEMPORAL_KEYS:
                    event_dict.setdefault(_TEMPORAL_KEYS[k], v)
    if activity.in_activity():
        info = activity.info()
        event_dict.setdefault("workflow_id", info.workflow_id)
        event_dict.setdefault("run_id", info.workflow_run_id)
        event_dict.setdefault("activity_type", info.activity_type)
        event_dict.setdefault("buy_id", info.workflow_id)
    return event_dict


def _identity(
    _logger: object, _name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    return event_dict

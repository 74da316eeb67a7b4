"""Prometheus metrics and per-update instrumentation (log context, latency, errors).

Each application owns a :class:`Metrics` with its own ``CollectorRegistry`` (kept in
``bot_data["metrics"]``), so several bots in one process (tests) never share counters.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Coroutine, Iterator, MutableMapping
from typing import Any, Protocol, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from telegram import Update
from telegram.ext import Application

from bot.logs import UPDATE, UpdateContext
from bot.updates import ConfirmingBot
from ml.classifier import Prediction

log = logging.getLogger("dumpin.updates")

CLASSIFICATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
UPDATE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

T = TypeVar("T")


class Model(Protocol):
    """What the metrics read from the classifier."""

    @property
    def version(self) -> str: ...

    @property
    def classes(self) -> tuple[str, ...]: ...


class _ModelInfo(Collector):
    """``dumpin_model_info{version=...} 1``, read at scrape time (follows hot reloads)."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "dumpin_model_info", "The model serving predictions", labels=["version"]
        )
        family.add_metric([self.model.version], 1.0)
        yield family


class Metrics:
    """The bot's metrics, in a registry of their own."""

    def __init__(self, model: Model) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "dumpin_updates", "Updates handled, by type", ["type"], registry=self.registry
        )
        self.update_seconds = Histogram(
            "dumpin_update_duration_seconds",
            "Time to handle one update, handlers included",
            buckets=UPDATE_BUCKETS,
            registry=self.registry,
        )
        self.photos = Counter(
            "dumpin_photos_classified",
            "Photos classified, by predicted class",
            ["class"],
            registry=self.registry,
        )
        self.classification_seconds = Histogram(
            "dumpin_classification_duration_seconds",
            "Time to decode and classify one photo",
            buckets=CLASSIFICATION_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "dumpin_errors",
            "Errors raised while handling updates, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.registry.register(_ModelInfo(model))
        for label in model.classes:
            self.photos.labels(label)

    def timed(self, classify: Callable[[bytes], Prediction]) -> Callable[[bytes], Prediction]:
        """``classify`` recording its latency and the predicted class (thread-safe)."""

        def run(data: bytes) -> Prediction:
            started = time.perf_counter()
            prediction = classify(data)
            self.classification_seconds.observe(time.perf_counter() - started)
            self.photos.labels(prediction.label).inc()
            return prediction

        return run

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


def metrics(bot_data: MutableMapping[Any, Any]) -> Metrics:
    """The application's metrics (set up by the app factory)."""
    return cast(Metrics, bot_data["metrics"])


def update_type(update: object) -> str:
    """``message``, ``callback_query``… for Telegram updates, the class name otherwise."""
    if isinstance(update, Update):
        found = (kind for kind in Update.ALL_TYPES if getattr(update, kind, None) is not None)
        return next(found, "unknown")
    return type(update).__name__


def hash_user(user_id: int, key: bytes) -> str:
    """A stable pseudonym for logs: keyed, so it cannot be reversed without ``key``."""
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:16]


class InstrumentedApplication(Application[Any, Any, Any, Any, Any, Any]):
    """``Application`` that counts and times updates and errors and gives logs their context."""

    async def process_update(self, update: object) -> None:
        """Handle ``update`` inside its log context, then record type and latency."""
        kind = update_type(update)
        user = update.effective_user if isinstance(update, Update) else None
        context = UpdateContext(
            update_id=update.update_id if isinstance(update, Update) else 0,
            user=hash_user(user.id, self.bot.token.encode()) if user is not None else None,
        )
        token = UPDATE.set(context)
        started = time.perf_counter()
        try:
            await super().process_update(update)
        finally:
            if isinstance(update, Update) and isinstance(self.bot, ConfirmingBot):
                self.bot.handled(update.update_id)
            elapsed = time.perf_counter() - started
            counters = metrics(self.bot_data)
            counters.updates.labels(kind).inc()
            counters.update_seconds.observe(elapsed)
            log.info(
                "update handled",
                extra={"update_type": kind, "latency_ms": round(elapsed * 1000, 1)},
            )
            UPDATE.reset(token)

    async def process_error(
        self, update: object | None, error: Exception, job: Any = None, coroutine: Any = None
    ) -> bool:
        """Count ``error`` by kind, then run the error handlers."""
        metrics(self.bot_data).errors.labels(type(error).__name__).inc()
        return await super().process_error(update, error, job, coroutine)


_TRACED: set[Callable[..., Any]] = set()


def trace_handlers(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Make every registered callback name itself in the log context of its update.

    Wraps each callback once per process (handlers are module-level objects shared by every
    application); the wrapper only touches the current task's :data:`bot.logs.UPDATE`.
    """
    for group in app.handlers.values():
        for handler in group:
            if handler.callback not in _TRACED:
                handler.callback = _traced(handler.callback)


def _traced(
    callback: Callable[..., Coroutine[Any, Any, T]],
) -> Callable[..., Coroutine[Any, Any, T]]:
    name = f"{callback.__module__.rpartition('.')[2]}.{callback.__name__}"

    @functools.wraps(callback)
    async def traced(update: object, context: Any) -> T:
        current = UPDATE.get()
        if current is not None:
            current.handler = name
        return await callback(update, context)

    _TRACED.add(traced)
    return traced

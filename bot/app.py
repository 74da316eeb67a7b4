"""The app factory: builds the ``Application`` from settings and registers every handler."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import SQLAlchemyError
from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from bot.metrics import InstrumentedApplication, Metrics, trace_handlers
from bot.request import AiohttpRequest, MessageRateLimiter
from bot.services import Services
from bot.settings import Settings
from bot.updates import CONCURRENT_UPDATES, ConfirmingBot, PerChatProcessor
from bot.user_memory import RecentUsers, bound_user_data
from handlers import (
    backlog,
    department,
    errors,
    feedback,
    forget,
    guide,
    history,
    language,
    photo,
    search,
    start,
    stats,
)
from locales import N_, translations
from ml.memory_sync import watch_memory
from ml.model_watch import watch_active_model

log = logging.getLogger(__name__)

FEATURES = (start, department, language, photo, feedback, search, history, forget, stats, guide)

COMMANDS = (
    ("quoi", N_("Find an object by its name")),
    ("departement", N_("Set your département")),
    ("langue", N_("Français / English")),
    ("historique", N_("Your photos so far")),
    ("oublier", N_("Delete your data")),
    ("aide", N_("Help")),
)


def build_application(settings: Settings, services: Services | None = None) -> Application:  # type: ignore[type-arg]
    """The bot, ready for ``run_polling`` or a webhook server."""
    api = settings.telegram_api_url
    bot = ConfirmingBot(
        token=settings.token(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=AiohttpRequest(
            connection_pool_size=8, pool_timeout=10, read_timeout=30, write_timeout=30
        ),
        get_updates_request=AiohttpRequest(connection_pool_size=1, read_timeout=40),
        rate_limiter=MessageRateLimiter(overall_max_rate=settings.send_rate, max_retries=5),
    )
    app = (
        Application.builder()
        .application_class(InstrumentedApplication)
        .bot(bot)
        .concurrent_updates(PerChatProcessor(CONCURRENT_UPDATES))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    bound_user_data(app, RecentUsers())
    app.bot_data["services"] = services = services or Services.open(settings)
    app.bot_data["metrics"] = Metrics(services.classifier)
    app.add_handlers(backlog.HANDLERS, group=-2)
    app.add_handler(TypeHandler(Update, _skip_anonymous), group=-1)
    for feature in FEATURES:
        app.add_handlers(feature.HANDLERS)
    app.add_handlers(guide.FALLBACKS)
    app.add_error_handler(errors.on_error)
    trace_handlers(app)
    return app


async def _skip_anonymous(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Updates without a user (channel posts, anonymous admins) are not for this bot."""
    if update.effective_user is None:
        raise ApplicationHandlerStop


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    for lang in ("fr", "en"):
        _ = translations(lang).gettext
        commands = [BotCommand(name, _(description)) for name, description in COMMANDS]
        await app.bot.set_my_commands(
            commands,
            scope=BotCommandScopeDefault(),
            language_code=None if lang == "fr" else lang,
        )
    services: Services = app.bot_data["services"]
    try:
        await services.search.get(services.sessions)  # the search index, built at start
    except SQLAlchemyError as exc:
        log.warning("search index not built at start (%s): built on the first search", exc)
    app.bot_data["model_watch"] = asyncio.create_task(
        watch_active_model(
            services.sessions, services.classifier, services.settings.model_poll_seconds
        ),
        name="model-watch",
    )
    app.bot_data["memory_watch"] = asyncio.create_task(
        watch_memory(services.sessions, services.classifier, services.settings.memory_poll_seconds),
        name="memory-watch",
    )
    log.info("bot @%s ready", app.bot.username)


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    for name in ("model_watch", "memory_watch"):
        watch: asyncio.Task[None] | None = app.bot_data.pop(name, None)
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
    services: Services = app.bot_data["services"]
    await services.close()

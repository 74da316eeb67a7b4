"""The learning loop with real photos: a consenting user sends half of wild-v1/val through the
fake Bot API and confirms or corrects every answer with the buttons, as people do.

:class:`Loop` holds the database and data folder the bot used, the two halves, and ways to
measure: ``dumpin classify`` on the held-out half, the default model on waste-v1/val from
cached embeddings (the backbone's output does not change while the loop runs; the memory
and the head are applied as ``dumpin classify`` applies them).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from bot.cli.active_model import model_dir
from bot.settings import Settings
from db.categories import CLASSES
from db.models import UserPrediction
from db.splits import split_of
from ml.classifier import Classifier
from ml.dataset import Sample, list_split
from ml.exemplars import DIMS
from ml.head import balanced_class_weight, train_head
from ml.memory import EXEMPLARS_FILE, Exemplars, build_exemplars
from ml.memory_sync import load_memory
from ml.retrain import TRAINED, ViewEmbedder
from tests.bot.conftest import BotHarness, buttons, consent, start_bot
from tests.conftest import DATASETS, REPO
from tests.deploy.conftest import migrated_sqlite
from tests.fake_telegram import FakeUser
from tests.scheduler.conftest import model_copy
from tests.test_cli import run_cli

WILD, WASTE = DATASETS / "wild-v1", DATASETS / "waste-v1"
TEACHER = 7001
"""The simulated consenting user."""
SENT_TEST_PHOTOS = 40
"""Test-split photos in the sent half: twice what the gate needs to decide on users' photos
(``ml.gate.MIN_USER_PHOTOS``), the rest of the half being photos the memory and the retrain
learn from (of wild-v1/val's 59 test-split photos)."""
CLASSIFY_CHUNK = 250
"""Files per ``dumpin classify`` call (each loads the models: one call per half)."""


def waste_train_every(every: int) -> dict[str, list[Path]]:
    """Every ``every``-th file of each class of waste-v1/train, sorted by name: a
    deterministic share of the studio photos, by class."""
    return {
        folder.name: sorted(folder.iterdir())[::every]
        for folder in sorted((WASTE / "train").iterdir())
    }


def _sha(sample: Sample) -> str:
    return hashlib.sha256(sample.path.read_bytes()).hexdigest()


def halves(samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """(sent, held): half of the photos each, by hash. The sent half takes
    :data:`SENT_TEST_PHOTOS` photos whose hash puts them in the test split (harvested, they are
    the users' test photos the promotion gate decides on), the rest of it photos of the train
    split (the only ones that reach the memory and the training set); the held half keeps the
    other photos, never learnt from."""
    by_split: dict[str, list[Sample]] = {"test": [], "train": [], "val": []}
    for sample in sorted(samples, key=_sha):
        by_split[split_of(_sha(sample))].append(sample)
    half = len(samples) // 2
    tests = by_split["test"][:SENT_TEST_PHOTOS]
    sent = tests + by_split["train"][: half - len(tests)]
    chosen = {s.path for s in sent}
    return sorted(sent, key=_sha), [s for s in samples if s.path not in chosen]


STUDIO_EVERY = 4
"""The studio model knows one waste-v1/train file in this many (the quarter the retrain loop
test embeds too, so the session's cache holds them once)."""


def studio_model(cache: Path, target: Path) -> Path:
    """A model of the shipped backbone whose head and memory exemplars know only studio photos
    (a quarter of waste-v1/train), with the shipped blend settings: the issue's situation,
    where users send real-world photos unlike anything the model learnt."""
    shipped = REPO / "ml" / "models"
    files = [(c, f) for c, fs in waste_train_every(STUDIO_EVERY).items() for f in fs]
    emb = ViewEmbedder(shipped / "backbone.tflite", cache)
    x = emb.plain([f for _, f in files])
    y = np.array([CLASSES.index(c) for c, _ in files])
    head = train_head(x, y, balanced_class_weight(y[TRAINED[y]], len(CLASSES)), TRAINED)
    params = Exemplars.load(shipped / EXEMPLARS_FILE).params
    model_copy(shipped, target, "studio-quarter", head)
    build_exemplars(emb.backbone.id, x, y, params, DIMS).save(target / EXEMPLARS_FILE)
    return target


@dataclass
class Loop:
    """The loop's database, data folder and photos."""

    url: URL
    data_dir: Path
    sent: list[Sample]
    held: list[Sample]
    cache: Path
    answers: list[str] = field(default_factory=list)
    """The bot's first answer to each sent photo."""
    shipped: Path = REPO / "ml" / "models"
    """The model the bot ships with (active until a retrain is promoted)."""

    @property
    def env(self) -> dict[str, str]:
        """What the ``dumpin`` commands need to use the bot's database and data."""
        return {
            "DUMPIN_DATA_DIR": str(self.data_dir),
            "DUMPIN_DATABASE_URL": self.url.render_as_string(hide_password=False),
            "DUMPIN_SHIPPED_MODEL_DIR": str(self.shipped),
        }

    async def teach(self) -> None:
        """Run the bot; the user sends the sent half one photo at a time (well under the
        per-chat cap), pressing ✅ on right answers and ✏️ then the true class on wrong ones."""
        async for bot in start_bot(self.url, self.data_dir, shipped_model_dir=self.shipped):
            user = bot.tg.user(TEACHER, "Teacher", language_code="fr")
            await consent(bot, user, "33")
            for sample in self.sent:
                self.answers.append(await _teach_one(bot, user, sample))

    def settings(self, base: Path, extra: Path = WILD) -> Settings:
        """The scheduler's settings for this loop, with ``base`` as the base dataset and
        ``extra`` as the real-world one (wild-v1, as deployed); embeddings go to the shared
        cache."""
        embeddings = self.data_dir / "embeddings"
        if not embeddings.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            embeddings.symlink_to(self.cache, target_is_directory=True)
        return Settings(
            data_dir=self.data_dir,
            database_url=SecretStr(self.env["DUMPIN_DATABASE_URL"]),
            base_dataset=base,
            extra_dataset=extra,
            shipped_model_dir=self.shipped,
            _env_file=None,  # type: ignore[call-arg]
        )

    def classify(self, samples: list[Sample]) -> float:
        """Top-1 of ``dumpin classify --json`` (default model) on ``samples``."""
        right = 0
        for start in range(0, len(samples), CLASSIFY_CHUNK):
            part = samples[start : start + CLASSIFY_CHUNK]
            result = run_cli(
                "classify", *(str(s.path) for s in part), "--json", env=self.env, cwd=REPO
            )
            assert result.returncode == 0, result.stderr
            labels = [json.loads(line)["label"] for line in result.stdout.splitlines()]
            right += sum(label == s.class_name for label, s in zip(labels, part, strict=True))
        return right / len(samples)

    async def waste_val(self) -> float:
        """Top-1 of the default model (the active one), with the memory as stored now, on
        waste-v1/val."""
        model = await asyncio.to_thread(model_dir, self.settings(WASTE), None)
        classifier = Classifier.load(model)
        await load_memory(self.url, classifier)
        paths = [s.path for s in list_split(WASTE, "val")]
        x = ViewEmbedder(model / "backbone.tflite", self.cache).plain(paths)
        bundle = classifier._bundle
        head, remember = bundle.head.predict_proba(x), bundle.voter(x)
        proba = remember(head)
        if bundle.second is not None:
            rule, second = bundle.second
            answer = second.answer(ViewEmbedder(second.tflite, self.cache).plain(paths))
            proba = rule.combine(head, proba, answer, remember)
        labels = np.array([CLASSES.index(p.parent.name) for p in paths])
        return float((proba.argmax(1) == labels).mean())


async def _teach_one(bot: BotHarness, user: FakeUser, sample: Sample) -> str:
    """Send one photo, wait for its answer and press what a careful user presses: ✅ on a
    right answer, the right one of the top 3 when the bot is unsure, else ✏️ and the true
    class in the grid. Returns the answered class."""
    tg = bot.tg
    await bot.reply(await tg.send_photo(user, sample.path.read_bytes()))
    message = bot.last_message(user)
    offered = buttons(message)
    key = next(b for b in offered if b.startswith("fix:")).split(":")[1]
    async with bot.services.sessions() as session:
        row = await session.get(UserPrediction, int(key))
        assert row is not None
        answered = row.predicted_class
    right = f"set:{key}:{sample.class_name}"
    if f"ok:{key}" in offered and answered == sample.class_name:
        await tg.press_button(user, message, f"ok:{key}")
    elif right in offered:
        await tg.press_button(user, message, right)
    else:
        await tg.press_button(user, message, f"fix:{key}")
        await tg.wait_for("editMessageReplyMarkup")
        await tg.press_button(user, bot.last_message(user), right)
    await tg.wait_for("editMessageText")
    return answered


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Embeddings of the shipped backbone, kept across runs when ``DUMPIN_TEST_CACHE`` names a
    folder (else for this session)."""
    configured = os.environ.get("DUMPIN_TEST_CACHE")
    return Path(configured) if configured else tmp_path_factory.mktemp("embeddings")


@pytest.fixture
async def loop(tmp_path: Path, embedding_cache: Path) -> Loop:
    """A migrated and seeded SQLite database, a data folder, the two halves of wild-v1/val."""
    if not (WILD / "val").is_dir() or not (WASTE / "val").is_dir():
        pytest.skip("datasets not available")
    url = await migrated_sqlite(tmp_path / "loop.db")
    sent, held = halves(list_split(WILD, "val"))
    return Loop(url, tmp_path / "data", sent, held, embedding_cache)

"""What a user does with the deployed bot, through the fake Bot API server on the host:
``/start``, consent, ``/departement 33`` and a real photo, answered with the right container."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from html import escape
from pathlib import Path

from PIL import Image

from bot.settings import Settings
from db.reference import nomenclatures
from deploy.shell import CheckFailed
from ml.classifier import Classifier
from tests.fake_telegram import FakeTelegram, FakeUser, RecordedRequest, Sent

REPO = Path(__file__).resolve().parent.parent
DATASET = Path(os.environ.get("DUMPIN_DATASET_DIR", REPO.parent / "shared/datasets/waste-v1"))
DEPARTMENT = ("33", "Gironde (33)")
MATERIAL = "verre"
"""Glass: Gironde has a rule of its own for it."""
SURE = 0.85
REPLY_SECONDS = 60


@dataclass(frozen=True)
class Photo:
    """A real photo of :data:`MATERIAL` and the container the bot must name for it."""

    name: str
    data: bytes
    container: str


def expected_container(material: str, department: str) -> str:
    """The container of ``material`` in ``department`` by the shipped rules (``db/data``)."""
    rules = {(r["department_code"], r["waste_category"]): r for r in nomenclatures()}
    rule = rules.get((department, material)) or rules[("*", material)]
    return rule["waste_container"]


def pick_photo() -> Photo:
    """The first val photo of :data:`MATERIAL` that the shipped model recognises as such,
    confidently (so that the check does not depend on one photo as models change),
    sent as a phone would: 1280×960 JPEG."""
    folder = DATASET / "val" / MATERIAL
    if not folder.is_dir():
        raise CheckFailed(f"no photos in {folder}: set DUMPIN_DATASET_DIR to waste-v1")
    classifier = Classifier.load(Settings(_env_file=None).shipped_model_dir)  # type: ignore[call-arg]
    for path in sorted(folder.glob("*.jpg")):
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").resize((1280, 960)).save(buffer, "JPEG", quality=88)
        prediction = classifier.classify_bytes(buffer.getvalue())
        if prediction.label == MATERIAL and prediction.confidence >= SURE:
            container = expected_container(MATERIAL, DEPARTMENT[0])
            return Photo(path.name, buffer.getvalue(), container)
    raise CheckFailed(f"the shipped model recognises no photo of {folder} with confidence {SURE}")


class Conversation:
    """One French-speaking user talking to the bot through ``tg``."""

    def __init__(self, tg: FakeTelegram) -> None:
        self.tg = tg
        self.user: FakeUser = tg.user(4242, "Camille", language_code="fr")

    async def reply(self, sent: Sent, method: str = "sendMessage") -> RecordedRequest:
        """The bot's next ``method`` call for the user's chat."""
        found = await self.tg.wait_for(
            method,
            lambda r: str(r.params.get("chat_id")) == str(self.user.id),
            timeout=REPLY_SECONDS,
        )
        return found[0]

    async def start(self) -> None:
        """``/start``, then « J'accepte »: the user's photos are kept from now on."""
        privacy = await self.reply(await self.tg.send_command(self.user, "/start"))
        _expect("/start", privacy, "Confidentialité")
        latest = self.tg.messages(self.user)[-1]
        consent = await self.tg.press_button(self.user, latest, "consent:yes")
        _expect("consent", await self.reply(consent, "editMessageText"), "Merci")
        _expect("consent", await self.reply(consent), "département")

    async def department(self) -> None:
        """``/departement 33``."""
        code, name = DEPARTMENT
        sent = await self.tg.send_command(self.user, "/departement", code)
        _expect(f"/departement {code}", await self.reply(sent), name)

    async def photo(self, photo: Photo) -> None:
        """``photo``, answered with its material and the container of Gironde."""
        answer = await self.reply(await self.tg.send_photo(self.user, photo.data))
        for part in ("Verre", f"🗑 <b>{escape(photo.container)}</b>", DEPARTMENT[1]):
            _expect(f"photo {photo.name}", answer, part)


def _expect(what: str, request: RecordedRequest, part: str) -> None:
    text = str(request.params.get("text", ""))
    if part not in text:
        raise CheckFailed(f"{what}: the bot answered without {part!r}:\n{text}")

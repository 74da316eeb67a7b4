"""What the bot keeps in RAM per user is bounded: idle users and the least recently seen
beyond ``MAX_USERS`` are forgotten (PTB kept every user for as long as the process ran)."""

from __future__ import annotations

from bot.user_memory import MAX_IDLE_SECONDS, RecentUsers, bound_user_data
from tests.bot.conftest import BotHarness, buttons, photo_bytes
from tests.bot.test_conversation import first_val


class Clock:
    """Time that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_seen_users_go_first() -> None:
    users = RecentUsers(max_users=2)
    users[1]["answers"] = "one"
    users[2]["answers"] = "two"
    assert users[1] == {"answers": "one"}  # 1 is now the most recently seen
    users[3]["answers"] = "three"
    assert set(users) == {1, 3}
    assert users[2] == {}


def test_idle_users_are_forgotten() -> None:
    clock = Clock()
    users = RecentUsers(clock=clock)
    users[1]["language"] = "en"
    clock.now = MAX_IDLE_SECONDS / 2
    users[2]["language"] = "fr"
    clock.now = MAX_IDLE_SECONDS + 1
    assert users[3] == {}
    assert set(users) == {2, 3}
    users.pop(2)
    assert set(users) == {3}


async def test_the_bot_forgets_users_beyond_its_bound(bot: BotHarness) -> None:
    tg = bot.tg
    bound_user_data(bot.app, RecentUsers(max_users=2))
    first = tg.user(5201)  # no consent: the answer lives in RAM only
    answer = await bot.reply(await tg.send_photo(first, photo_bytes(first_val("verre"))))
    for user_id in (5202, 5203):
        await bot.reply(await tg.send_command(tg.user(user_id), "/aide"))
    assert set(bot.app.user_data) == {5202, 5203}
    pressed = await tg.press_button(first, answer.result, buttons(answer.result)[0])
    assert (await bot.answer_of(pressed))["text"] == "Ce bouton a expiré."

"""Caps Lock and Num Lock kept in step with the front session's QEMU LED state."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from ..session import Session, State

log = logging.getLogger("vncwall.input")

NUM_LOCK_LED = 1 << 1
CAPS_LOCK_LED = 1 << 2
# (LED bit, local modifier, keysym, XT scan code, pygame key)
LOCKS = (
    (CAPS_LOCK_LED, pygame.KMOD_CAPS, 0xFFE5, 0x3A, pygame.K_CAPSLOCK),
    (NUM_LOCK_LED, pygame.KMOD_NUM, 0xFF7F, 0x45, pygame.K_NUMLOCKCLEAR),
)
ANSWER_SECONDS = 1.0  # how long a server has to report its LEDs after we toggle one


@dataclass
class LockSync:
    """Before a key reaches the front session, toggle its locks to match the local ones.

    Only servers that report QEMU LED state take part. After a toggle, no further one is
    sent until the server reports its LEDs again; a server that does not answer within
    ANSWER_SECONDS is left alone from then on (its LED reports do not follow the keys).
    """

    _waiting: dict[int, tuple[int, float]] = field(default_factory=dict)  # id -> serial, by
    _given_up: set[int] = field(default_factory=set)

    def before_keys(self, session: Session | None, events: Sequence[pygame.event.Event],
                    now: float) -> None:
        """Call with each event batch before the router sends its keys."""
        if session is None or session.config.view_only or id(session) in self._given_up:
            return
        led = session.led_state
        down = next((e for e in events if e.type == pygame.KEYDOWN), None)
        if led is None or down is None or session.status().state is not State.LIVE:
            return
        serial, state = led
        waiting = self._waiting.get(id(session))
        if waiting is not None:
            if waiting[0] == serial:  # no report since our toggle
                if now < waiting[1]:
                    return
                log.info("session %s: LED state does not follow lock keys; not syncing locks",
                         session.name)
                self._given_up.add(id(session))
                return
            del self._waiting[id(session)]
        if any(down.key == lock[4] for lock in LOCKS):
            return  # the user is toggling a lock: it goes through as typed
        toggled = False
        for bit, mod, keysym, xt, _ in LOCKS:
            if bool(down.mod & mod) != bool(state & bit):
                session.send_key(True, keysym, xt)
                session.send_key(False, keysym, xt)
                toggled = True
        if toggled:
            self._waiting[id(session)] = (serial, now + ANSWER_SECONDS)

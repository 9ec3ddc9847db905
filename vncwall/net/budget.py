"""The work budget: how many pixel writes a server's updates may cost us for their bytes.

Most RFB messages cost work in proportion to their size, but a few do not: a 16-byte
CopyRect, a 20-byte RRE fill and a 12-byte DesktopSize each touch a whole screen, and
RRE subrectangles may overlap without end. A hostile server can chain tens of
thousands of those into one update and keep a core busy for minutes with a few
hundred kilobytes. The budget makes the work earn its keep:

- every byte received earns `PER_BYTE` pixel writes (legitimate encodings write far
  fewer pixels per byte than that once what they paint overlaps);
- every update we asked for earns `PER_UPDATE` whole framebuffers (a legitimate
  update paints each pixel about once: the encoders of TigerVNC, x11vnc, TightVNC and
  QEMU send rectangles that do not overlap). Updates nobody asked for earn nothing
  but their bytes, and at most `CONTINUOUS_HZ` updates a second earn the allowance,
  requested or continuous (no display shows more screens than that);
- unspent earnings are kept up to `RESERVE` framebuffers, so a burst is fine and a
  long quiet spell does not bank credit for a later flood.

Each rectangle (and each batch of RRE subrectangles, each resize, each cursor image)
is charged before it is painted; one that would overdraw the balance ends the session
with a ProtocolError saying how much work for how many bytes. The figures were chosen
from the real recordings and servers in the tests (see `tools/budget_margin.py`): the
lowest balance any of them reached stays above 60% of the reserve.
"""

from __future__ import annotations

from typing import Protocol

from .errors import ProtocolError


class Counted(Protocol):
    """What the budget reads the bytes received from (the client's ByteFeeder)."""

    consumed: int

PER_BYTE = 64  # pixel writes earned per byte received
PER_UPDATE = 2  # framebuffers earned per FramebufferUpdate asked for
CONTINUOUS_HZ = 60.0  # continuous updates that earn PER_UPDATE, per second at most
RESERVE = 4  # framebuffers of credit kept at most
MIN_FRAME = 1 << 20  # a framebuffer counts as at least this many pixels (cursors, tiny desktops)


class WorkBudget:
    """Pixel writes earned by bytes and updates, spent by painting (one per connection)."""

    def __init__(self, stream: Counted) -> None:
        self._stream = stream  # its `consumed`: bytes the parser has taken so far
        self._seen = 0  # of those, already credited
        self._frame = MIN_FRAME
        self._cap = RESERVE * MIN_FRAME
        self.balance = self._cap
        self._low = self.balance  # the lowest balance so far ...
        self.lowest = 1.0  # ... as a fraction of the reserve then
        self.spent = 0  # pixel writes charged so far
        self._update_start = (0, 0)  # (spent, bytes) when the current update began
        self._next_free = float("-inf")  # when an update may next earn its allowance

    def frame(self, width: int, height: int, fill: bool = False) -> None:
        """The framebuffer's size (ServerInit, resizes): what one framebuffer is worth.
        `fill` (at ServerInit): start with the whole reserve, once per connection."""
        self._frame = max(MIN_FRAME, width * height)
        self._cap = RESERVE * self._frame
        if fill:
            self.balance = self._cap

    def update_begun(self, asked: bool, now: float) -> None:
        """A FramebufferUpdate header arrived at `now`: credit its allowance when it
        was asked for (a request of ours, or continuous updates, paced)."""
        self.pay(0)  # credit the bytes so far
        if asked and now >= self._next_free:
            self.balance = min(self._cap, self.balance + PER_UPDATE * self._frame)
            self._next_free = now + 1.0 / CONTINUOUS_HZ
        self._update_start = (self.spent, self._stream.consumed)

    def pay(self, pixels: int) -> bool:
        """Spend `pixels` writes; False when the balance cannot pay (then raise `error`)."""
        balance = self.balance
        now = self._stream.consumed
        if now != self._seen:
            balance += PER_BYTE * (now - self._seen)
            if balance > self._cap:
                balance = self._cap
            self._seen = now
        balance -= pixels
        self.balance = balance
        self.spent += pixels
        if balance < self._low:
            self._low = balance
            self.lowest = balance / self._cap
        return balance >= 0

    def error(self, what: str) -> ProtocolError:
        """The one-line reason for a payment that failed at `what`."""
        spent = self.spent - self._update_start[0]
        got = self._stream.consumed - self._update_start[1]
        return ProtocolError(
            f"update costs far more than its bytes: {spent:,} pixel writes "
            f"for {got:,} bytes (at {what}); budget {PER_BYTE} per byte plus "
            f"{PER_UPDATE} screens per update"
        )

    def charge(self, pixels: int, what: str) -> None:
        """`pay`, raising ProtocolError when the balance cannot."""
        if not self.pay(pixels):
            raise self.error(what)

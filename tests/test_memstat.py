"""Memory figures read from /proc: resident set, peak, and the GL driver's mapped files."""

from __future__ import annotations

from pathlib import Path

from vncwall.memstat import memory_figures

SMAPS = """\
55d0-55d1 r-xp 00000000 08:01 123 /usr/bin/python3.11
Size:               4 kB
Rss:               40 kB
7f00-7f10 r-xp 00000000 08:01 456 /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1
Rss:             5000 kB
Pss:             5000 kB
7f20-7f30 rw-p 00000000 00:00 0
Rss:             9000 kB
7f40-7f50 r-xp 00000000 08:01 789 /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so
Rss:              700 kB
"""


def test_reads_rss_peak_and_driver_share(tmp_path: Path) -> None:
    (tmp_path / "status").write_text("Name:\tpython\nVmHWM:\t  20000 kB\nVmRSS:\t  14740 kB\n")
    (tmp_path / "smaps").write_text(SMAPS)
    m = memory_figures(tmp_path)
    assert m is not None
    assert (m.rss, m.peak_rss, m.driver_code) == (14740 * 1024, 20000 * 1024, 5700 * 1024)
    assert m.target(24_576_000) == 150_000_000 + 36_864_000


def test_this_process_and_no_proc(tmp_path: Path) -> None:
    m = memory_figures()
    assert m is not None and 0 < m.rss <= m.peak_rss
    assert memory_figures(tmp_path / "missing") is None

"""The CLI's progress line (``redis_docstore._cli.progress``)."""

from __future__ import annotations

import io

from redis_docstore._cli.progress import ProgressBar, render_progress

# -- progress ------------------------------------------------------------------------------------


def test_render_progress() -> None:
    assert render_progress(250, 1000, 2.0, label="adding", width=10) == (
        "adding [##--------] 250/1,000  25%  125 docs/s  ETA 0:06"
    )
    assert (
        render_progress(1000, 1000, 8.0, width=4)
        == "[####] 1,000/1,000 100%  125 docs/s  ETA 0:00"
    )
    assert render_progress(0, 50, 0.0, width=4) == "[----] 0/50   0%  0.0 docs/s  ETA --:--"
    assert render_progress(3, 7200, 3.0, width=4) == "[----] 3/7,200   0%  1.0 docs/s  ETA 1:59:57"
    assert render_progress(12, 10, 1.0, width=4).startswith("[####] 12/10 100%")
    assert render_progress(0, 0, 1.0, width=4).startswith("[####] 0/0 100%")
    assert render_progress(1234, None, 2.0, label="checking") == "checking 1,234 docs  617 docs/s"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_bar_redraws_in_place_at_most_ten_times_a_second() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = ProgressBar(stream, 100, label="adding", clock=clock)
    for _ in range(50):  # 50 updates within 0.049 s: one redraw
        clock.now += 0.001
        bar.advance(1)
    assert stream.getvalue().count("\r") == 1
    clock.now += 0.2
    bar.advance(50)
    assert stream.getvalue().count("\r") == 2
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 3
    assert text.endswith("100/100 100%  400 docs/s  ETA 0:00\n")
    assert "\n" not in text[:-1]


def test_progress_bar_pads_a_shorter_line() -> None:
    stream, clock = io.StringIO(), Clock()
    with ProgressBar(stream, None, clock=clock, interval=0) as bar:
        clock.now += 1
        bar.advance(100_000)
        clock.now += 1000
        bar.advance(1)
    first, second, last = stream.getvalue().split("\r")[1:]
    assert len(second) == len(first) > len(second.rstrip())
    assert last.rstrip("\n").strip() == "100,001 docs  100 docs/s"

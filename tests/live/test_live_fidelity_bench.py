"""The recorder benchmark's firehose and measurement work (a few seconds, not the figures)."""

from __future__ import annotations

import os

import pytest

from kalshi_lake.bench import recorder


@pytest.mark.slow
def test_a_short_recorder_run_journals_and_rolls_every_frame_without_a_gap() -> None:
    cpus = os.sched_getaffinity(0)
    try:
        figs = {f["name"]: f for f in recorder.measure(3.0)}
    finally:
        os.sched_setaffinity(0, cpus)  # the benchmark pins its process to one core
    rate = figs["recorder_frames_per_s"]
    assert int(rate["frames"]) > 1000  # type: ignore[call-overload]
    # the firehose numbers each sid without holes, so the session saw none; lifecycle frames of
    # other series were counted, not kept; everything journaled was rolled into raw/ws
    assert rate["gaps"] == 0 and int(rate["lifecycle_skipped"]) > 0  # type: ignore[call-overload]
    assert rate["rolled_all"] is True
    assert float(figs["recorder_rss_mb"]["value"]) > 0  # type: ignore[arg-type]


@pytest.mark.slow
def test_the_scan_benchmark_reads_the_same_frames_from_both_layouts() -> None:
    from kalshi_lake.bench import wsscan

    (fig,) = wsscan.measure(4000)
    # a fifth of the recorder's mix is trade and lifecycle frames, what the transform keeps;
    # the day's files (one an hour) hold a row group per message type: four types
    assert fig["rows_kept"] == 800 and fig["files"] == 24 and fig["row_groups"] == 24 * 4
    assert float(fig["value"]) > 0 and float(fig["mixed_row_groups_s"]) > 0  # type: ignore[arg-type]

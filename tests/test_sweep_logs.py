"""The sweep's log writers: what each writes for hand-built segments, read back from disk."""

import csv
import json
import struct

import jax
import numpy as np
import pytest

from lrjax.sweep.logs import CSVLog, JSONLines, Segment, TensorBoard, chain

NAN = float("nan")


def _segment(start, stop, **kw):
    """Two members (population indices 3 and 5) over steps start .. stop - 1."""
    n = stop - start
    steps = np.arange(start, stop, dtype=np.float32)
    fields = dict(
        search="run",
        start=start,
        stop=stop,
        members=np.array([3, 5]),
        hparams={"peak": np.array([0.5, 0.25], np.float32), "warmup": np.array([2, 4])},
        metrics={"loss": np.stack([10 + steps, 20 + steps])},
        lrs=np.stack([steps / 10, np.full(n, NAN, np.float32)]),
        group_lrs={"head": np.stack([steps / 100, steps / 200])},
        evals={"acc": np.array([0.5, NAN], np.float32)},
        score="loss",
        mode="min",
    )
    return Segment(**{**fields, **kw})


SEGMENTS = [_segment(0, 3), _segment(3, 5)]
TRAIN = Segment(
    "train", 0, 4, np.array([0, 1]), {"peak": np.array([0.5, 0.25])},
    {
        "curve": np.arange(8.0).reshape(2, 4),  # (m, T): one value per row
        "final": np.array([1.5, NAN]),  # (m,): on every row
        "weights": np.zeros((2, 4, 3)),  # (m, T, 3): JSON only
    },
    np.zeros((2, 0), np.float32), {}, {}, "final", "min",
)  # fmt: skip


def _strict(name):
    raise ValueError(f"non-strict JSON constant {name}")


def test_chain_calls_each_callback_in_turn():
    seen = []
    chain(lambda s: seen.append(("a", s.start)), lambda s: seen.append(("b", s.start)))(TRAIN)
    assert seen == [("a", 0), ("b", 0)]


def test_json_lines_one_strict_object_per_member_and_segment(tmp_path):
    path = tmp_path / "new" / "sweep.jsonl"
    with JSONLines(path) as log:
        for s in SEGMENTS:
            log(s)
            assert len(path.read_text().splitlines()) == 2 * (s.start // 3 + 1)  # flushed
        log(TRAIN)
    rows = [json.loads(line, parse_constant=_strict) for line in path.read_text().splitlines()]
    assert [(r["search"], r["member"], r["start"], r["stop"]) for r in rows] == [
        ("run", 3, 0, 3), ("run", 5, 0, 3), ("run", 3, 3, 5), ("run", 5, 3, 5),
        ("train", 0, 0, 4), ("train", 1, 0, 4),
    ]  # fmt: skip
    first, second = rows[2], rows[3]
    assert first["hparams"] == {"peak": 0.5, "warmup": 2}
    assert first["metrics"] == {"loss": [13.0, 14.0]}
    assert first["lr"] == pytest.approx([0.3, 0.4])
    assert first["group_lrs"]["head"] == pytest.approx([0.03, 0.04])
    assert first["evals"] == {"acc": 0.5}
    assert second["lr"] == [None, None] and second["evals"] == {"acc": None}  # NaN -> null
    train = rows[5]
    assert train["metrics"]["curve"] == [4.0, 5.0, 6.0, 7.0]
    assert train["metrics"]["final"] is None
    assert train["metrics"]["weights"] == [[0.0] * 3] * 4
    assert train["lr"] == [] and train["group_lrs"] == {} and train["evals"] == {}


def test_json_lines_append_continues_a_file(tmp_path):
    path = tmp_path / "sweep.jsonl"
    with JSONLines(path) as log:
        log(SEGMENTS[0])
    with JSONLines(path, append=True) as log:
        log(SEGMENTS[1])
    assert len(path.read_text().splitlines()) == 4
    log(SEGMENTS[0])  # a call after close continues the file
    log.close()
    assert len(path.read_text().splitlines()) == 6
    with JSONLines(path) as log:  # a new log starts the file again
        log(SEGMENTS[1])
    assert len(path.read_text().splitlines()) == 2


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_one_row_per_member_and_step(tmp_path):
    path = tmp_path / "new" / "sweep.csv"
    with CSVLog(path) as log:
        for s in SEGMENTS:
            log(s)
        rows = _read_csv(path)  # flushed while open
    assert list(rows[0]) == [
        "search", "member", "step", "hp/peak", "hp/warmup", "loss", "lr", "lr/head", "eval/acc",
    ]  # fmt: skip
    assert [(r["member"], r["step"]) for r in rows] == [
        ("3", "0"), ("3", "1"), ("3", "2"), ("5", "0"), ("5", "1"), ("5", "2"),
        ("3", "3"), ("3", "4"), ("5", "3"), ("5", "4"),
    ]  # fmt: skip
    by = {(r["member"], r["step"]): r for r in rows}
    assert by["5", "1"]["hp/peak"] == "0.25" and by["5", "1"]["hp/warmup"] == "4"
    assert float(by["3", "4"]["loss"]) == 14 and float(by["5", "4"]["loss"]) == 24
    assert float(by["3", "4"]["lr"]) == pytest.approx(0.4) and by["5", "4"]["lr"] == "nan"
    assert float(by["5", "4"]["lr/head"]) == pytest.approx(0.02)
    # The evaluation sits on each segment's last step only.
    assert [by["3", str(i)]["eval/acc"] for i in range(5)] == ["", "", "0.5", "", "0.5"]
    assert by["5", "2"]["eval/acc"] == "nan"


def test_csv_train_segment_rows_per_output_index(tmp_path):
    path = tmp_path / "train.csv"
    with CSVLog(path) as log:
        log(TRAIN)
    rows = _read_csv(path)
    assert list(rows[0]) == ["search", "member", "step", "hp/peak", "curve", "final", "lr"]
    assert [(r["member"], r["step"], r["curve"]) for r in rows[:5]] == [
        ("0", "0", "0.0"), ("0", "1", "1.0"), ("0", "2", "2.0"), ("0", "3", "3.0"),
        ("1", "0", "4.0"),
    ]  # fmt: skip
    assert {r["final"] for r in rows[:4]} == {"1.5"} and {r["final"] for r in rows[4:]} == {"nan"}
    assert {r["lr"] for r in rows} == {""}


def test_csv_cannot_grow_columns(tmp_path):
    path = tmp_path / "sweep.csv"
    with CSVLog(path) as log:
        log(SEGMENTS[0]._replace(evals={}))
        with pytest.raises(ValueError, match="eval/acc"):
            log(SEGMENTS[1])
        log(SEGMENTS[1]._replace(evals={}, group_lrs={}))  # fewer columns: empty cells
    rows = _read_csv(path)
    assert len(rows) == 10 and rows[-1]["lr/head"] == ""
    with CSVLog(path, append=True) as log:  # continues under the file's own header
        log(SEGMENTS[1]._replace(evals={}))
    assert len(_read_csv(path)) == 14
    # a hyperparameter named like a metric is hp/<name>: no clash; a metric named "lr"
    # would fill the applied rate's column
    CSVLog(tmp_path / "hp.csv")(SEGMENTS[0]._replace(hparams={"lr": np.ones(2)}))
    assert list(_read_csv(tmp_path / "hp.csv")[0])[3] == "hp/lr"
    twice = {**SEGMENTS[0].metrics, "lr": SEGMENTS[0].lrs}
    with pytest.raises(ValueError, match="'lr' would be filled twice"):
        CSVLog(tmp_path / "twice.csv")(SEGMENTS[0]._replace(metrics=twice))


# --- TensorBoard ------------------------------------------------------------------------
# A test fixture standing in for TensorBoard's own reader (tensorflow and tensorboard are
# not installed): it parses the TFRecord framing of the event files -- uint64 length,
# uint32 masked CRC-32C of the length, the data, uint32 masked CRC-32C of the data -- and
# decodes each record as an `Event`.


def _events(run):
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.record_writer import masked_crc32c

    events = []
    for path in sorted(run.glob("events.out.tfevents.*")):
        data, i = path.read_bytes(), 0
        while i < len(data):
            header = data[i : i + 8]
            (n,) = struct.unpack("<Q", header)
            assert struct.unpack("<I", data[i + 8 : i + 12])[0] == masked_crc32c(header)
            record = data[i + 12 : i + 12 + n]
            assert struct.unpack("<I", data[i + 12 + n : i + 16 + n])[0] == masked_crc32c(record)
            events.append(Event.FromString(record))
            i += 16 + n
    return events


def _scalars(events):
    """tag -> [(step, value)] of the simple-value summaries."""
    out = {}
    for e in events:
        for v in e.summary.value:
            if v.WhichOneof("value") == "simple_value":
                out.setdefault(v.tag, []).append((e.step, v.simple_value))
    return out


def _tagged(events, tag):
    return [(e.step, v) for e in events for v in e.summary.value if v.tag == tag]


def test_tensorboard_one_run_per_member(tmp_path):
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    with TensorBoard(tmp_path / "tb") as tb:
        for s in SEGMENTS:
            tb(s)
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["member-0003", "member-0005"]
    events = _events(tmp_path / "tb" / "member-0003")
    scalars = _scalars(events)
    f32 = lambda xs: [(k, np.float32(x)) for k, x in xs]  # noqa: E731
    assert scalars["train/loss"] == f32([(i, 10 + i) for i in range(5)])
    assert scalars["lr"] == f32([(i, i / 10) for i in range(5)])
    assert scalars["lr/head"] == f32([(i, i / 100) for i in range(5)])
    assert scalars["eval/acc"] == f32([(3, 0.5), (5, 0.5)])  # at each segment's stop
    assert scalars["hp/peak"] == f32([(0, 0.5), (3, 0.5)])
    assert scalars["hp/warmup"] == f32([(0, 2), (3, 2)])
    ((step, text),) = _tagged(events, "hparams/text_summary")  # once, at the first segment
    assert step == 0 and "| peak | 0.5 |" in text.tensor.string_val[0].decode()
    # The HParams dashboard's three records, in this member's own run.
    ((_, exp),) = _tagged(events, "_hparams_/experiment")
    exp = HParamsPluginData.FromString(exp.metadata.plugin_data.content).experiment
    assert [h.name for h in exp.hparam_infos] == ["peak", "warmup"]
    assert [m.name.tag for m in exp.metric_infos] == ["train/loss", "eval/acc"]
    ((_, start),) = _tagged(events, "_hparams_/session_start_info")
    start = HParamsPluginData.FromString(start.metadata.plugin_data.content).session_start_info
    assert start.hparams["peak"].number_value == 0.5 and start.hparams["warmup"].number_value == 2
    assert len(_tagged(events, "_hparams_/session_end_info")) == 1
    # Member 5's rate is NaN (no lrjax rate in its carry): no lr points.
    other = _scalars(_events(tmp_path / "tb" / "member-0005"))
    assert "lr" not in other and other["train/loss"] == f32([(i, 20 + i) for i in range(5)])
    assert np.isnan(other["eval/acc"][0][1])


def test_tensorboard_train_segment(tmp_path):
    pytest.importorskip("tensorboardX")
    with TensorBoard(tmp_path) as tb:
        tb(TRAIN)
    scalars = _scalars(_events(tmp_path / "member-0001"))
    assert scalars["train/curve"] == [(i, 4.0 + i) for i in range(4)]
    assert len(scalars["train/final"]) == 1 and scalars["train/final"][0][0] == 4  # at stop
    assert "train/weights" not in scalars and "lr" not in scalars


def test_only_process_zero_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    writers = [JSONLines(tmp_path / "a.jsonl"), CSVLog(tmp_path / "b" / "b.csv")]
    writers.append(TensorBoard(tmp_path / "tb"))
    for s in [*SEGMENTS, TRAIN]:
        chain(*writers)(s)
    for w in writers:
        w.close()
    assert list(tmp_path.iterdir()) == []


def test_a_real_sweep_streams_to_tensorboard_and_resumes_after_interruption(tmp_path):
    """End to end: `lrjax.sweep.run` streams to TensorBoard while checkpointing, is
    interrupted after its second segment, resumes from the checkpoint into the same log
    folder, and the runs then hold every step of every member, once."""
    pytest.importorskip("tensorboardX")
    pytest.importorskip("orbax.checkpoint")
    import jax.numpy as jnp
    import optax

    import lrjax
    from lrjax import sweep

    def init(hp):
        return jnp.zeros(2), lrjax.sgd(hp["lr"]).init(jnp.zeros(2))

    def step(carry, hp):
        w, state = carry
        loss, g = jax.value_and_grad(lambda w: jnp.sum((w - 1.0) ** 2))(w)
        u, state = lrjax.sgd(hp["lr"]).update(g, state, w)
        return (optax.apply_updates(w, u), state), loss

    class Interrupted(Exception):
        pass

    def stop_at_8(segment):
        if segment.stop == 8:
            raise Interrupted

    hp = {"lr": jnp.array([0.01, 0.1, 0.3])}
    kw = dict(steps=12, eval_every=4, checkpoint=tmp_path / "ck")
    with TensorBoard(tmp_path / "tb") as board, pytest.raises(Interrupted):
        sweep.run(init, step, hp, callback=chain(board, stop_at_8), **kw)
    with TensorBoard(tmp_path / "tb") as board:
        resumed = sweep.run(init, step, hp, callback=board, resume=True, **kw)
    for member in range(3):
        losses = _scalars(_events(tmp_path / "tb" / f"member-{member:04d}"))["train/loss"]
        # steps 0..7 streamed, then the interrupted segment (4..7, after the last
        # checkpoint) trained and streamed again, with the same values, and 8..11
        assert sorted(s for s, _ in losses) == sorted([*range(8), *range(4, 12)])
        for step_, value in losses:
            assert value == pytest.approx(float(resumed.losses[member, step_]), rel=1e-6)

"""Ray Data workload used by the tests: plain user code, no lineage imports.

Usage: python ray_formats.py <workdir>
Creates its input files under <workdir>, runs one Dataset execution per
scenario, and prints one JSON line per scenario marker so the test can match
events to scenarios: {"scenario": ..., ...}.
"""

import io
import json
import os
import struct
import sys
import tarfile

import numpy as np
import pandas as pd
import ray

work = os.path.abspath(sys.argv[1])
os.makedirs(work, exist_ok=True)


def mark(name, **info):
    print(json.dumps({"scenario": name, **info}), flush=True)


os.chdir(work)  # Ray workers share the driver's working directory from init on
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
ctx = ray.data.DataContext.get_current()
ctx.enable_progress_bars = False
ctx.print_on_execution_start = False

# ---------------------------------------------------------------- inputs
pq_dir = os.path.join(work, "in_parquet")
os.makedirs(pq_dir)
pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]}).to_parquet(os.path.join(pq_dir, "part-0.parquet"))
pd.DataFrame({"id": [4, 5], "name": ["d", "e"]}).to_parquet(os.path.join(pq_dir, "part-1.parquet"))

csv_file = os.path.join(work, "in.csv")
pd.DataFrame({"x": [1.5, 2.5], "label": ["p", "q"]}).to_csv(csv_file, index=False)

json_dir = os.path.join(work, "in_json")
os.makedirs(json_dir)
with open(os.path.join(json_dir, "a.jsonl"), "w") as fh:
    fh.write('{"k": 1, "v": "one"}\n{"k": 2, "v": "two"}\n')

text_file = os.path.join(work, "in.txt")
with open(text_file, "w") as fh:
    fh.write("hello\nworld\n")

img_dir = os.path.join(work, "in_images")
os.makedirs(img_dir)
from PIL import Image  # noqa: E402

for i in range(2):
    Image.fromarray(np.full((8, 8, 3), i * 60, np.uint8)).save(os.path.join(img_dir, f"img{i}.png"))

bin_dir = os.path.join(work, "in_binary")
os.makedirs(bin_dir)
for i in range(2):
    with open(os.path.join(bin_dir, f"blob{i}.bin"), "wb") as fh:
        fh.write(bytes([i]) * 16)

import fastavro  # noqa: E402

avro_file = os.path.join(work, "in.avro")
with open(avro_file, "wb") as fh:
    fastavro.writer(
        fh,
        {"type": "record", "name": "R", "fields": [{"name": "n", "type": "long"}, {"name": "s", "type": "string"}]},
        [{"n": 1, "s": "x"}, {"n": 2, "s": "y"}],
    )

import soundfile  # noqa: E402

audio_dir = os.path.join(work, "in_audio")
os.makedirs(audio_dir)
soundfile.write(os.path.join(audio_dir, "tone.wav"), np.sin(np.linspace(0, 100, 800)).astype("float32"), 8000)

import imageio_ffmpeg  # noqa: E402

video_file = os.path.join(work, "clip.mp4")
writer = imageio_ffmpeg.write_frames(video_file, (16, 16), fps=4, macro_block_size=1, codec="mpeg4")
writer.send(None)
for i in range(3):
    writer.send(np.full((16, 16, 3), i * 50, np.uint8).tobytes())
writer.close()


def tfrecord(payload: bytes) -> bytes:
    # TFRecord framing: length, masked crc32c(length), data, masked crc32c(data)
    import crc32c

    def masked(data: bytes) -> int:
        crc = crc32c.crc32c(data)
        return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked(length)) + payload + struct.pack("<I", masked(payload))


tfr_file = os.path.join(work, "in.tfrecords")
with open(tfr_file, "wb") as fh:
    fh.write(tfrecord(b"\x0a\x00"))  # an empty tf.train.Example

wds_in = os.path.join(work, "in_wds")
os.makedirs(wds_in)
with tarfile.open(os.path.join(wds_in, "shard-000.tar"), "w") as tar:
    for key in ("s1", "s2"):
        data = f"caption {key}".encode()
        info = tarfile.TarInfo(f"{key}.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

npy_file = os.path.join(work, "in.npy")
np.save(npy_file, np.arange(6, dtype=np.int64).reshape(3, 2))

import pyarrow as pa  # noqa: E402
import pyarrow.orc as orc  # noqa: E402

orc_file = os.path.join(work, "in.orc")
orc.write_table(pa.table({"o": [1, 2], "p": ["u", "v"]}), orc_file)

# ---------------------------------------------------------------- scenarios
out_parquet = os.path.join(work, "out_parquet")
mark("parquet_map_write", input=pq_dir, output=out_parquet)
ray.data.read_parquet(pq_dir).map_batches(
    lambda b: {"id": b["id"] * 10, "upper": np.char.upper(b["name"].astype(str))}
).write_parquet(out_parquet)

out_json = os.path.join(work, "out_json")
mark("csv_to_json", input=csv_file, output=out_json)
ray.data.read_csv(csv_file).write_json(out_json)

mark("json_take", input=json_dir)
ray.data.read_json(json_dir).take(2)

mark("text_take_all", input=text_file)
ray.data.read_text(text_file).take_all()

out_images = os.path.join(work, "out_images")
mark("images_roundtrip", input=img_dir, output=out_images)
ray.data.read_images(img_dir).write_images(out_images, column="image", file_format="png")

mark("binary_iter_batches", input=bin_dir)
for _ in ray.data.read_binary_files(bin_dir).iter_batches(batch_size=1):
    pass

mark("avro_materialize", input=avro_file)
ray.data.read_avro(avro_file).materialize()

mark("audio_take", input=audio_dir)
ray.data.read_audio(audio_dir).take(1)

mark("video_take", input=video_file)
ray.data.read_videos(video_file).take(1)

out_wds = os.path.join(work, "out_wds")
mark("webdataset_roundtrip", input=wds_in, output=out_wds)
ray.data.read_webdataset(wds_in).write_webdataset(out_wds)

out_npy = os.path.join(work, "out_npy")
mark("numpy_roundtrip", input=npy_file, output=out_npy)
ray.data.read_numpy(npy_file).write_numpy(out_npy, column="data")

mark("orc_take", input=orc_file)
ray.data.read_orc(orc_file).take(1)

mark("parquet_count", input=pq_dir)
ray.data.read_parquet(pq_dir).count()

mark("relative_path_take", input=os.path.join(work, "in.csv"))
ray.data.read_csv("in.csv").take(1)

mark("no_files")
ray.data.from_items([{"a": 1}]).map(lambda r: r).take(1)

mark("udf_failure", input=csv_file)
try:
    ray.data.read_csv(csv_file).map(lambda r: 1 / 0).take_all()
except Exception as exc:  # noqa: BLE001
    mark("udf_failure_raised", error=type(exc).__name__)

mark("tfrecords_read", input=tfr_file)
try:
    ray.data.read_tfrecords(tfr_file).take(1)
    mark("tfrecords_read_ok")
except Exception as exc:  # noqa: BLE001 - tensorflow is not installed in the test env
    mark("tfrecords_read_raised", error=type(exc).__name__)

out_mat = os.path.join(work, "out_from_materialized")
mark("materialize_then_write", input=pq_dir, output=out_mat)
materialized = ray.data.read_parquet(pq_dir).map(lambda r: {"id": r["id"] + 1}).materialize()
materialized.write_csv(out_mat)

mark("csv_schema", input=csv_file)
ray.data.read_csv(csv_file).map(lambda r: r).schema()  # executes (one block) to learn the schema

import mlflow  # noqa: E402  (tracking URI from the environment: a file store)

with mlflow.start_run() as run:
    mark("inside_mlflow_run", run_id=run.info.run_id, experiment_id=run.info.experiment_id, input=json_dir)
    ray.data.read_json(json_dir).take_all()

mark("done")

"""Results: Parquet tables under a local path or any pyarrow filesystem URI (s3://, gs://, file://).

    <results>/<sweep>/trials/<trial_id>.parquet   one row per trial
    <results>/<sweep>/epochs/<trial_id>.parquet   one row per trial × epoch
    <results>/<sweep>/sweep.json                  spec, expanded trials, code version, runs

One file per trial, named by its id, so a trial can never have two rows, and a rerun of a failed
trial replaces its row. Every file is written under a hidden temporary name and then moved into
place, so nothing half-written is ever readable (Parquet readers skip names starting with '.').
``load(path)`` returns both tables as pandas DataFrames; the same folders open in duckdb/polars
(``read_parquet('<results>/<sweep>/trials/*.parquet')``).
"""
from __future__ import annotations

import functools
import json
import os
import posixpath
import time
import uuid

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .config import plain
from .schema import CONFIG_COLUMNS, EPOCH_SCHEMA, TRIAL_FIELDS, TRIAL_SCHEMA, epoch_rows, trial_row  # noqa: F401

# ----------------------------------------------------------------------------- filesystem


def filesystem(uri: str):
    """(pyarrow FileSystem, path) for a local path or a URI such as s3://bucket/prefix."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except (pa.ArrowException, ValueError, OSError) as e:
        raise ResultsError(f"{uri}: not a results location pyarrow can open ({first_line(e)})") from None
    if isinstance(fs, pafs.S3FileSystem):  # object stores answer 5xx and throttle: retried, with backoff
        fs = _retrying(fs)
    return fs, path


S3_ATTEMPTS = 10  # the AWS SDK's standard strategy (exponential backoff); pyarrow's default is 3 attempts


def _retrying(fs):
    """The same S3 filesystem with ``S3_ATTEMPTS`` attempts per request (pyarrow's URIs cannot say so)."""
    _, (kwargs,) = fs.__reduce__()
    return pafs.S3FileSystem(**kwargs, retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=S3_ATTEMPTS))


def check_writable(uri: str, sweep: str):
    """Write and remove a probe file in ``<uri>/<sweep>/``, so a location that cannot be written
    stops the driver in one line before anything is prepared or run; leaves nothing behind."""
    fs, base = filesystem(uri)
    folder = posixpath.join(base, sweep)
    created = None  # the top-most folder the probe creates, removed again afterwards
    p = folder
    while p not in ("", "/") and fs.get_file_info(p).type == pafs.FileType.NotFound:
        created, p = p, posixpath.dirname(p.rstrip("/"))
    probe = posixpath.join(folder, f".probe-{uuid.uuid4().hex[:8]}")
    try:
        fs.create_dir(folder, recursive=True)
        with fs.open_output_stream(probe) as out:
            out.write(b"rnnsweep")
        fs.delete_file(probe)
    except (OSError, pa.ArrowException) as e:
        raise ResultsError(f"{uri}: cannot write results there ({first_line(e)})") from None
    finally:
        if created:
            try:
                fs.delete_dir(created)
            except OSError:
                pass


def atomic_write(fs, path: str, write):
    """``write(stream)`` into a hidden temp file beside ``path``, then move it into place."""
    d, base = posixpath.split(path)
    fs.create_dir(d, recursive=True)
    tmp = posixpath.join(d, f".{base}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with fs.open_output_stream(tmp) as out:
            write(out)
        fs.move(tmp, path)
    except BaseException:
        try:
            fs.delete_file(tmp)
        except OSError:
            pass
        raise


def update_trial(uri: str, sweep: str, trial_id: str, **values):
    """Rewrite one trial's row with ``values`` changed (``kept``: a dropped model's ``model_uri``); its own
    file, written over a compacted row, which its own file overrides."""
    fs, base = filesystem(uri)
    table = read_trial_file(uri, sweep, "trials", trial_id)
    if table is None:
        import pyarrow.compute as pc  # heavy; the driver's, not every worker's

        t = read_table(uri, sweep, "trials")
        table = t.filter(pc.equal(t["trial_id"], trial_id))
    if not table.num_rows:
        return
    row = {**_conformed(table, TRIAL_SCHEMA, trial_id).to_pylist()[0], **values}
    out = pa.Table.from_pylist([row], schema=TRIAL_SCHEMA)
    atomic_write(fs, posixpath.join(base, sweep, "trials", f"{trial_id}.parquet"), lambda o: pq.write_table(out, o))


def write_trial(uri: str, sweep: str, result: dict, budget: dict | None = None):
    """Write one trial: its epoch rows first, then its trial row (the trial row is what marks the
    trial done, so a crash in between just reruns it). A running trial writes itself here too,
    with status ``running`` and its epochs so far (``live.write_epochs``)."""
    fs, base = filesystem(uri)
    tid = result["trial_id"]
    epochs = pa.Table.from_pylist(epoch_rows(result), schema=EPOCH_SCHEMA)
    trial = pa.Table.from_pylist([trial_row(result, budget)], schema=TRIAL_SCHEMA)
    atomic_write(fs, posixpath.join(base, sweep, "epochs", f"{tid}.parquet"), lambda o: pq.write_table(epochs, o))
    atomic_write(fs, posixpath.join(base, sweep, "trials", f"{tid}.parquet"), lambda o: pq.write_table(trial, o))


def write_json(uri: str, sweep: str, name: str, obj: dict):
    fs, base = filesystem(uri)

    def write(out):  # in 1 MB pieces: 100,000 trials' sweep.json is 170 MB, never held as one string
        pieces, size = [], 0
        # A trial is written in its plain form, made as it is written (100,000 never exist as dicts at once).
        for piece in json.JSONEncoder(indent=1, default=plain).iterencode(obj):
            pieces.append(piece)
            size += len(piece)
            if size > 1 << 20:
                out.write("".join(pieces).encode())
                pieces, size = [], 0
        out.write("".join(pieces).encode())

    atomic_write(fs, posixpath.join(base, sweep, name), write)


def delete(uri: str, sweep: str, name: str):
    fs, base = filesystem(uri)
    try:
        fs.delete_file(posixpath.join(base, sweep, name))
    except FileNotFoundError:
        pass


class ResultsError(OSError):
    """The results cannot be read or written; the message names the file or URI."""


def read_json(uri: str, sweep: str, name: str) -> dict | None:
    """The JSON file, or None when it does not exist. Any other failure (unreadable, corrupt, a
    network error) is a one-line ``ResultsError``: a caller must never mistake it for "no file"
    and write a fresh one over the old."""
    fs, base = filesystem(uri)
    path = posixpath.join(base, sweep, name)
    try:
        if fs.get_file_info(path).type == pafs.FileType.NotFound:
            return None
        with fs.open_input_stream(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError) as e:
        raise ResultsError(f"{uri.rstrip('/')}/{sweep}/{name}: cannot be read ({first_line(e)})") from None


def first_line(e: Exception) -> str:
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"


def _read_parquet(fs, f: str) -> pa.Table:
    """One Parquet file. A running trial replaces its files after every epoch, and a reader's ranged
    reads can straddle a replacement (object stores have no snapshot): read again before calling
    the file corrupt."""
    for attempt in range(4):
        try:
            return pq.read_table(f, filesystem=fs)
        except (OSError, pa.ArrowException) as e:
            if attempt == 3:
                raise ResultsError(f"{f}: not a readable Parquet file ({first_line(e)})") from None
            time.sleep(0.25 * (attempt + 1))


def read_trial_file(uri: str, sweep: str, table: str, trial_id: str) -> pa.Table | None:
    """One trial's own file of ``table`` ("trials" or "epochs"), or None when it has none (yet)."""
    fs, base = filesystem(uri)
    path = posixpath.join(base, sweep, table, f"{trial_id}.parquet")
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    return _read_parquet(fs, path)


def _listing(fs, path: str) -> list[str]:
    """The Parquet files of one table folder (one LIST on an object store), hidden ones skipped."""
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    except FileNotFoundError:
        infos = []
    return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet")
                  and not posixpath.basename(i.path).startswith((".", "_")))


def _conformed(t: pa.Table, schema: pa.Schema, f: str, required=()) -> pa.Table:
    missing = [c for c in required if c not in t.column_names]
    if missing:
        raise ValueError(f"{f}: missing column(s) {', '.join(missing)}")
    # Older files may lack newer columns: add them as nulls; keep extra columns out.
    cols = [t.column(n).cast(schema.field(n).type) if n in t.column_names
            else pa.nulls(len(t), schema.field(n).type) for n in schema.names]
    return pa.Table.from_arrays(cols, schema=schema)


def _read_files(fs, files: list[str], schema: pa.Schema, required=()) -> pa.Table:
    """File by file: slow, but names the one file that is corrupt or lacks a column."""
    tables = [_conformed(_read_parquet(fs, f), schema, f, required) for f in files]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _scan(fs, files: list[str], schema: pa.Schema, required=()) -> pa.Table:
    """``files`` as one table by ``pyarrow.dataset`` (parallel, only ``schema``'s columns, a file's
    missing columns as nulls); file by file when that fails or a required column comes back empty."""
    import pyarrow.dataset as pads

    if not files:
        return schema.empty_table()
    try:
        table = pads.dataset(files, schema=schema, format="parquet", filesystem=fs).to_table()
        if not any(table.column(c).null_count for c in required if c in schema.names):
            return table
    except (OSError, pa.ArrowException):
        pass
    return _read_files(fs, files, schema, required)


COMPACTED = "compacted-"  # <table>/compacted-<ms>-<hex>.parquet: many trials' rows in one file (see compact)


def _read_dir(fs, path: str, schema: pa.Schema, required=(), columns=None) -> pa.Table:
    """Every file of a table folder as one Arrow table of ``schema`` (only ``columns`` when given).

    Read by ``pyarrow.dataset``. When that fails (a corrupt file, a file caught mid-replacement, a
    file gone since the listing) or a required column is empty, the files are read one by one, which
    retries a replaced file and names a bad one in a one-line error. Compacted files hold many
    trials; a trial's own file (written after the compaction: a rerun) wins over them, and a newer
    compacted file over an older one."""
    files = _listing(fs, path)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    packed = sorted((f for f in files if posixpath.basename(f).startswith(COMPACTED)), reverse=True)
    if not packed:
        return _scan(fs, files, schema, required)
    if "trial_id" not in schema.names:
        schema = schema.append(TRIAL_SCHEMA.field("trial_id"))  # to tell which rows a newer file replaces
    import pyarrow.compute as pc

    tables = [_scan(fs, [f for f in files if f not in packed], schema, required)]
    # The distinct trials of the newer files, not every row of them: 200 compacted files of 100,000 trials' epochs
    # took 33 s when each file was matched against all the rows read before it.
    seen = [pc.unique(tables[0].column("trial_id"))]
    for f in packed:  # newest first
        t = _scan(fs, [f], schema, required)
        tables.append(t.filter(pc.invert(pc.is_in(t.column("trial_id"), value_set=pa.concat_arrays(seen)))))
        seen.append(pc.unique(t.column("trial_id")))
    table = pa.concat_tables(tables)
    return table.select(columns) if columns is not None else table


@functools.cache  # one lookup of libc per process, not one per compaction
def memory_trimmer():
    """glibc's ``malloc_trim`` (a no-op without glibc): hands freed memory back to the system. Reading many
    Parquet footers on Arrow's threads, and Ray's threads in the driver, leave hundreds of MB freed but
    still resident in their malloc arenas until trimmed."""
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda _pad: 0


COMPACT_CHUNK = 125  # small files read at once by compact: the memory a read of 500 leaves behind is ~200 MB


def _scan_in_chunks(fs, files: list[str], schema: pa.Schema, required=()) -> pa.Table:
    """``_scan`` of ``files``, ``COMPACT_CHUNK`` at a time, freed memory handed back after each."""
    trim, parts = memory_trimmer(), []
    for i in range(0, len(files), COMPACT_CHUNK):
        parts.append(_scan(fs, files[i:i + COMPACT_CHUNK], schema, required))
        trim(0)
    return pa.concat_tables(parts) if parts else schema.empty_table()


def compact(uri: str, sweep: str) -> int:
    """Rewrite the finished trials' small files of each table as one compacted file, then remove
    them, as table formats do with small files (Delta's OPTIMIZE, Iceberg's rewrite_data_files): a
    resume scan or a report then reads a few files instead of thousands, which matters most on
    object stores. Incremental: earlier compacted files stay as they are. Running trials keep their
    own files. Returns how many trials went into the new file. The caller holds the sweep's lease
    (the driver does); a file replaced since it was read is left alone."""
    fs, base = filesystem(uri)
    folder = {t: posixpath.join(base, sweep, t) for t in ("trials", "epochs")}
    small = {t: [f for f in _listing(fs, d) if not posixpath.basename(f).startswith(COMPACTED)]
             for t, d in folder.items()}
    if not small["trials"]:
        return 0
    listed = {t: {i.path: (i.mtime_ns, i.size) for i in fs.get_file_info(files)} for t, files in small.items()}
    import pyarrow.compute as pc

    trials = _scan_in_chunks(fs, small["trials"], TRIAL_SCHEMA, REQUIRED_TRIAL)
    trials = trials.filter(pc.not_equal(trials.column("status"), "running"))
    ids = trials.column("trial_id")
    done = set(ids.to_pylist())
    mine = [f for f in small["epochs"] if posixpath.basename(f)[:-len(".parquet")] in done]
    epochs = _scan_in_chunks(fs, mine, EPOCH_SCHEMA, REQUIRED_EPOCH)
    name = f"{COMPACTED}{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}.parquet"
    for table, body in (("epochs", epochs), ("trials", trials)):
        atomic_write(fs, posixpath.join(folder[table], name), lambda o, b=body: pq.write_table(b, o))
    for files in listed.values():
        for f, stamp in files.items():
            if posixpath.basename(f)[:-len(".parquet")] in done and _unchanged(fs, f, stamp):
                fs.delete_file(f)
    return len(done)


def _unchanged(fs, f: str, stamp) -> bool:
    info = fs.get_file_info(f)
    return info.type == pafs.FileType.File and (info.mtime_ns, info.size) == stamp


def table_files(uri: str, sweep: str, table: str = "trials", compacted: bool = True) -> int:
    """How many files a table has (without compacted ones: how many trials' own files)."""
    fs, base = filesystem(uri)
    files = _listing(fs, posixpath.join(base, sweep, table))
    return len(files) if compacted else sum(not posixpath.basename(f).startswith(COMPACTED) for f in files)


REQUIRED_TRIAL = ("trial_id", "status")
REQUIRED_EPOCH = ("trial_id", "epoch")


def read_table(uri: str, sweep: str, table: str, required=(), columns=None) -> pa.Table:
    """One table ("trials" or "epochs") as Arrow, only ``columns`` when given; a file lacking a
    ``required`` column is a one-line ValueError naming it."""
    fs, base = filesystem(uri)
    return _read_dir(fs, posixpath.join(base, sweep, table), {"trials": TRIAL_SCHEMA, "epochs": EPOCH_SCHEMA}[table],
                     required, columns)


def read_tables(uri: str, sweep: str, required_trial=REQUIRED_TRIAL, required_epoch=REQUIRED_EPOCH):
    return read_table(uri, sweep, "trials", required_trial), read_table(uri, sweep, "epochs", required_epoch)


def done(uri: str, sweep: str) -> dict:
    """{trial_id: status} of every trial already written (the epochs table is not read)."""
    t = read_table(uri, sweep, "trials", REQUIRED_TRIAL, columns=REQUIRED_TRIAL)
    return dict(zip(t.column("trial_id").to_pylist(), t.column("status").to_pylist()))


def versions(uri: str, sweep: str) -> dict:
    """{trial_id: code_version} of every trial written (None where an older rnnsweep did not record it)."""
    t = read_table(uri, sweep, "trials", REQUIRED_TRIAL, columns=(*REQUIRED_TRIAL, "code_version"))
    return dict(zip(t.column("trial_id").to_pylist(), t.column("code_version").to_pylist()))


def sweeps(uri: str) -> list[str]:
    """Names of the sweeps under a results root (folders that have a trials/ table)."""
    fs, base = filesystem(uri)
    infos = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    return sorted(posixpath.basename(i.path) for i in infos if i.type == pafs.FileType.Directory
                  and fs.get_file_info(posixpath.join(i.path, "trials")).type == pafs.FileType.Directory)


def is_sweep(path: str) -> bool:
    """Is ``path`` one sweep's folder (it holds a trials/ table)?"""
    fs, base = filesystem(path)
    return fs.get_file_info(posixpath.join(base, "trials")).type == pafs.FileType.Directory


def locate(path: str, sweep: str | None = None) -> tuple[str, str]:
    """(results root, sweep name) from a sweep folder, or a root plus ``sweep`` (or holding one)."""
    if sweep is None:
        if is_sweep(path):
            uri, q, query = path.partition("?")  # s3://b/p/sweep?endpoint_override=... keeps its query
            root, sweep = posixpath.split(uri.rstrip("/"))
            if "://" not in uri:
                root, sweep = os.path.split(os.path.abspath(uri))
            path = root + q + query
        else:
            found = sweeps(path)
            if len(found) != 1:
                raise FileNotFoundError(f"{path}: no <sweep>/trials table here" if not found else
                                        f"{path}: holds several sweeps ({', '.join(found)}); pass sweep=")
            sweep = found[0]
    return path, sweep


def local_folder(uri: str, sweep: str, *parts) -> str | None:
    """The local folder ``<uri>/<sweep>/<parts>``, or None when the results live remotely."""
    fs, base = filesystem(uri)
    return posixpath.join(base, sweep, *parts) if isinstance(fs, pafs.LocalFileSystem) else None


def shown(uri: str, *parts) -> str:
    """``<uri>/<parts>`` as a person reads it: a results URI without its query (s3's endpoint_override=...)."""
    return "/".join([uri.partition("?")[0].rstrip("/"), *parts])


def upload_folder(local: str, uri: str, sweep: str, *parts) -> str:
    """Copy a local folder to ``<uri>/<sweep>/<parts>`` (s3://, gs://); returns that URI."""
    fs, base = filesystem(uri)
    pafs.copy_files(local, posixpath.join(base, sweep, *parts), destination_filesystem=fs)
    return shown(uri, sweep, *parts)


def load(path: str, sweep: str | None = None, **required):
    """``(trials, epochs)`` DataFrames. ``path`` is a sweep folder (``results/imdb_grid``) or a
    results root with ``sweep`` given (or holding exactly one sweep)."""
    trials, epochs = read_tables(*locate(path, sweep), **required)
    return trials.to_pandas(), epochs.to_pandas()

"""Every setting of a sweep, in one place: its section, default, type and allowed values.

A trial's config has three sections, ``dataset`` (stage ``text``), ``model`` (stage ``models``)
and ``training`` (stage ``trial``). ``config`` makes each section a typed value from these
declarations (``config.Trial``: defaults filled in and values checked once), ``spec`` checks a
sweep against them before anything runs, and ``results`` takes each config column's Parquet type
from ``Setting.type``. Plain Python on purpose: importing it costs nothing,
so reading results or checking a sweep never loads TensorFlow.

Rule for adding a setting: its default must keep today's behaviour. Trial ids hash only the
values that differ from the defaults (see ``config.trial_id``), so such a setting leaves every
existing id, and every finished result, valid. Never change an existing default: add a setting.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

INITIALIZERS = ("he_normal", "glorot_normal", "glorot_uniform", "random_normal")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class Setting:
    default: object
    type: type                # bool | int | float | str: what a value is, and its Parquet column type
    doc: str = ""
    choices: tuple = ()       # the allowed values, when they are a fixed list
    ge: float | None = None   # lower bound, inclusive
    gt: float | None = None   # lower bound, exclusive
    lt: float | None = None   # upper bound, exclusive
    none: bool = False        # None allowed (means "off" / "not set")
    also: tuple = ()          # literal values allowed beside the type (dense_units="same")

    def allows(self, v) -> bool:
        if v is None:
            return self.none
        if isinstance(v, (str, int, float)) and v in self.also:
            return True
        if self.choices:
            return any(v == c and type(v) is type(c) for c in self.choices)
        if self.type is dict:
            return isinstance(v, dict)
        if self.type is bool or isinstance(v, bool):
            return self.type is bool and isinstance(v, bool)
        if self.type is str:
            return isinstance(v, str) and v != ""
        if not isinstance(v, int if self.type is int else (int, float)) or not math.isfinite(v):
            return False
        return ((self.ge is None or v >= self.ge) and (self.gt is None or v > self.gt)
                and (self.lt is None or v < self.lt))

    def kind(self) -> str:
        """What a valid value is, in words, for one-line errors: 'positive integer or None'."""
        if self.choices:
            return "one of " + ", ".join(map(repr, self.choices))
        if self.type is dict:
            alts = ["dict"]
        elif self.type is bool:
            alts = ["true", "false"]
        elif self.type is str:
            alts = ["string"]
        elif self.ge == 0 and self.lt == 1:
            alts = ["fraction in [0, 1)"]
        elif (self.type is int and self.ge == 1) or self.gt == 0:
            alts = [f"positive {'integer' if self.type is int else 'number'}"]
        elif self.ge is not None:  # reduction: "an integer ≥ 2"
            alts = [f"{'integer' if self.type is int else 'number'} ≥ {self.ge:g}"]
        else:
            alts = ["integer" if self.type is int else "number"]
        alts += [repr(a) for a in self.also] + (["None"] if self.none else [])
        return alts[0] if len(alts) == 1 else f"{', '.join(alts[:-1])} or {alts[-1]}"

    def problem(self, v) -> str | None:
        """None when ``v`` is allowed, else why not: "0 is not a positive integer"."""
        if self.allows(v):
            return None
        kind = self.kind()
        return f"{v!r} is not {kind}" if self.choices else f"{v!r} is not {'an' if kind[0] in 'aeiou' else 'a'} {kind}"

    @property
    def column_type(self) -> str:
        """Parquet column type: the declared type, or string where other literals are allowed."""
        mixed = any(type(c) is not self.type for c in self.choices + self.also)
        return "string" if mixed else {bool: "bool", int: "int64", float: "float64", str: "string"}[self.type]

    def from_column(self, value):
        """A value read back from its results column: the inverse of storing a mixed-type setting
        (glove_dim: 50 or "auto") or a dict as a string. An empty cell where None is no value of this setting
        is a row written before the setting existed: its default, which keeps that row's behaviour."""
        if value is None and not self.none:
            return self.default
        if not isinstance(value, str) or self.allows(value):
            return value
        for literal in self.choices + self.also:
            if str(literal) == value:
                return literal
        for parse in (int, float, json.loads):
            try:
                v = parse(value)
            except ValueError:
                continue
            if self.allows(v):
                return v
        return value


S = Setting
POSITIVE = dict(ge=1)
FRACTION = dict(ge=0, lt=1)

DATASET = {
    "source": S("imdb_reviews", str, "raw data: IMDB 50k reviews, Keras's IMDB encoding, NLTK names, Amazon food",
                choices=("imdb_reviews", "keras_imdb", "names", "amazon_food")),
    "path": S(None, str, "explicit source file or folder (else the data dir, see data.py)", none=True),
    "sample": S(False, bool, "the small real sample shipped with rnnsweep (3,000 IMDB reviews, GloVe 50d rows of "
                "their words): what --smoke runs on when the full files are not in the data dir"),
    "clean": S("none", str, "seed000: seed 000's regex cleaning", choices=("seed000", "none")),
    "num_words": S(None, int, "Tokenizer(num_words=...): keep indices < num_words", none=True, **POSITIVE),
    "oov_token": S(None, str, "Tokenizer(oov_token=...): index 1 when set", none=True),
    "char_level": S(False, bool, "Tokenizer(char_level=True): seed 002's names"),
    "lower": S(True, bool, "Tokenizer(lower=...)"),
    "maxlen": S(100, int, "pad_sequences(maxlen=...); None: the longest training sequence (seed 002)", none=True,
                **POSITIVE),
    "padding": S("pre", str, "pad_sequences's default; seed 000 pads 'post'", choices=("pre", "post")),
    "truncating": S("pre", str, "pad_sequences's default", choices=("pre", "post")),
    "split": S("seed000", str, "seed000: train_test_split(test_size, random_state); official: aclImdb 25k/25k; "
               "time: oldest (1 - test_size) for training, newest for testing (seed 003)",
               choices=("seed000", "official", "time")),
    "shuffle_seed": S(None, int, "shuffle the rows with random.Random(seed) before splitting (seed 002's "
                      "random.shuffle, made reproducible)", none=True),
    "dedupe": S(False, bool, "drop repeated reviews: same UserId, ProfileName, Time and Text (seed 003)"),
    "test_size": S(0.2, float, "train_test_split(test_size=...)", **FRACTION),
    "split_seed": S(42, int, "train_test_split(random_state=...)"),
    "embedding": S("learned", str, "glove: a pretrained matrix (frozen or not: model.embedding_trainable)",
                   choices=("learned", "glove")),
    "glove_dim": S("auto", int, "auto: 100 when its file is present (seed 000), else 50; recorded per trial",
                   choices=(50, 100, 200, 300), also=("auto",)),
    "embedding_rows": S("num_words", str, "num_words: only the rows sequences can reach; full: seed 000's matrix",
                        choices=("num_words", "full")),
}

MODEL = {
    "arch": S("LSTM", str, "the recurrent layer; bag: seed 002's dense bag-of-characters model",
              choices=("SimpleRNN", "LSTM", "GRU", "bag")),
    "units": S(32, int, "recurrent (or, for bag, hidden Dense) units", **POSITIVE),
    "layers": S(1, int, "stacked recurrent (or, for bag, hidden Dense) layers", **POSITIVE),
    "bidirectional": S(False, bool, "wrap each recurrent layer in Bidirectional"),
    "activation": S("tanh", str, "of the recurrent layers (seed 000: relu)"),
    "kernel_initializer": S("glorot_uniform", str, "of the recurrent layers", choices=INITIALIZERS),
    "init_stddev": S(0.05, float, "stddev wherever an initializer is random_normal", gt=0),
    "dropout": S(0.0, float, "inside the recurrent layers", **FRACTION),
    "recurrent_dropout": S(0.0, float, "inside the recurrent layers", **FRACTION),
    "embedding_dim": S(100, int, "ignored with a pretrained matrix (its width is used)", **POSITIVE),
    "embedding_trainable": S(None, bool, "None: learned → trainable, pretrained (GloVe) → frozen", none=True),
    "embedding_lr_scale": S(1.0, float, "the trainable embedding's step as a fraction of the others' (Adam, "
                            "RMSprop); 1: the same. Keras has no per-layer learning rate: the layer keeps its "
                            "weights divided by this and multiplies its output by it", gt=0),
    "mask_zero": S(False, bool, "Embedding(mask_zero=...)"),
    "embedding_dropout": S(0.0, float, "Dropout right after the embedding (seed 003)", **FRACTION),
    "dense_units": S(None, int, "optional hidden Dense; 'same' = units (seed 000)", none=True, also=("same",),
                     **POSITIVE),
    "dense_activation": S("relu", str, "of the hidden Dense"),
    "dense_initializer": S("glorot_uniform", str, "of the hidden Dense", choices=INITIALIZERS),
    "output_dropout": S(0.0, float, "Dropout before the output layer (seed 004)", **FRACTION),
    "pooling": S("last", str, "what the last recurrent layer hands on: its last state, or the max / mean / both "
                 "(concatenated) over its outputs at every timestep (masked steps left out with mask_zero)",
                 choices=("last", "max", "mean", "max_mean")),
    "spatial_dropout": S(0.0, float, "SpatialDropout1D after the embedding: drops whole embedding channels",
                         **FRACTION),
    "clipnorm": S(None, float, "the optimizer's clipnorm: each gradient's norm clipped to this", none=True, gt=0),
    "batch_norm": S(False, bool, "BatchNormalization after the embedding and before the output (seed 003)"),
    "l2": S(0.0, float, "L2 penalty on the recurrent layers' kernels; 0: none (seed 003)", ge=0),
    "output_initializer": S("glorot_uniform", str, "of the output Dense(1, sigmoid)", choices=INITIALIZERS),
    "optimizer": S("adam", str, "Keras optimizer", choices=("adam", "rmsprop", "sgd")),
    "precision": S("float32", str, "Keras dtype policy: mixed_float16 (GPUs) or mixed_bfloat16 compute in half "
                   "precision, the output layer and the weights stay float32", choices=PRECISIONS),
    "learning_rate": S(1e-3, float, "the optimizer's learning rate", gt=0),
    "semantics": S("keras3", str, "tf_keras2: what the seeds' TensorFlow 2.x tf.keras computed (RMSprop's epsilon "
                   "outside the square root, fresh dropout masks at every timestep where it ran the generic RNN "
                   "loop); see semantics.py", choices=("keras3", "tf_keras2")),
}

TRAINING = {
    "batch_size": S(32, int, "model.fit(batch_size=...)", **POSITIVE),
    "epochs": S(10, int, "model.fit(epochs=...)", **POSITIVE),
    "validation_split": S(0.2, float, "Keras: the *last* fraction of the training arrays", **FRACTION),
    "seed": S(42, int, "keras.utils.set_random_seed: repeats are a grid over it"),
    "early_stopping": S(None, int, "patience in epochs (restores the best weights), or None", none=True, **POSITIVE),
    "early_stopping_monitor": S("val_loss", str, "what early stopping watches (and restores the best epoch of); "
                                "a searched study's trials watch its search metric unless it sets this"),
    "lr_schedule": S(None, str, "plateau: ReduceLROnPlateau (val_loss, ×0.5 after 1 epoch without gain, floor "
                     "1e-6); cosine: cosine decay per epoch from learning_rate to 0 at the last epoch", none=True,
                     choices=("plateau", "cosine")),
    "limit_train": S(None, int, "train on the first N samples only (a budget override)", none=True, **POSITIVE),
    "limit_test": S(None, int, "evaluate on the first N test samples only (a budget override)", none=True,
                    **POSITIVE),
    "backend": S("tensorflow", str, "Keras's backend for this trial; auto: per model, the one measured faster on "
                 "this kind of device (earlier trials' epoch times), recorded with why in backend_choice",
                 choices=("tensorflow", "jax", "auto")),
    "evaluate_test": S(True, bool, "evaluate on the test split when training ends; a search's trials do not "
                       "(choose on validation, touch the test split once, with the winner's seed repeats)"),
    "auc": S(True, bool, "report Keras's AUC beside accuracy on train, validation and test, as seed 000 does; "
             "False: accuracy only, as seeds 001-004 report, and no AUC in the compiled steps (weights and losses "
             "are the same either way)"),
}

# A study's ``search=dict(...)``: how to choose its trials and when to stop them (``search.py``).
# Sampled values (choice / uniform / loguniform) without ``samples=`` are drawn by Optuna's sampler,
# ``trials`` of them; on a grid or a ``samples=`` study only ``pruner`` applies.
SEARCH = {
    "sampler": S("tpe", str, "optuna.samplers.TPESampler (constant liar, for trials in flight) or RandomSampler",
                 choices=("tpe", "random")),
    "trials": S(None, int, "how many trials the sampler draws (needed when it draws)", none=True, **POSITIVE),
    "metric": S("val_accuracy", str, "what is optimised and pruned on: its best epoch, per epoch",
                choices=("val_accuracy", "val_auc", "val_loss")),
    "direction": S("maximize", str, "val_loss: minimize", choices=("maximize", "minimize")),
    "seed": S(0, int, "the sampler's seed: the same spec, seed and results draw the same next trials"),
    "startup_trials": S(10, int, "TPESampler(n_startup_trials=...): random draws before TPE models the space",
                        **POSITIVE),
    "pruner": S(None, dict, "dict(kind=..., min_epochs=..., reduction=...): see PRUNER; None: every trial runs to "
                "its last epoch", none=True),
}
PRUNER = {
    "kind": S("asha", str, "asha: SuccessiveHalvingPruner; hyperband: HyperbandPruner; median: MedianPruner",
              choices=("asha", "hyperband", "median")),
    "min_epochs": S(1, int, "epochs every trial runs before it can be stopped (min_resource / n_warmup_steps)",
                    **POSITIVE),
    "reduction": S(3, int, "reduction_factor: a rung keeps the best 1/reduction (asha, hyperband)", ge=2),
    "startup_trials": S(5, int, "MedianPruner(n_startup_trials=...)", ge=0),
}

SECTIONS = {"dataset": DATASET, "model": MODEL, "training": TRAINING}


def defaults(section: str) -> dict:
    """``{key: default}`` of one section (a fresh dict: callers may fill it in)."""
    return {k: s.default for k, s in SECTIONS[section].items()}


def columns() -> list[tuple[str, str, Setting]]:
    """(section, key, setting) of every config column; keys are unique across sections."""
    return [(section, k, s) for section, body in SECTIONS.items() for k, s in body.items()]


assert len({k for _, k, _ in columns()}) == len(columns()), "config keys must be unique across sections"

"""How the sample shipped with rnnsweep was cut from the real files (run once; output committed):
3,000 IMDB reviews (1,500 per label, Kaggle CSV format) and the GloVe 6B 50d rows of the 10,000 most
frequent words of their text as seed 000 cleans it, so ``--smoke`` runs on a machine that has not
downloaded the 900 MB of full files. Reproducible: the same real files give the same bytes.

    RNNSWEEP_DATA=../shared/data python rnnsweep/sample/make_sample.py
"""
import gzip
import os
from collections import Counter
from pathlib import Path

import pandas as pd

from rnnsweep.text import clean_seed000

SRC = Path(os.environ["RNNSWEEP_DATA"])
OUT = Path(__file__).parent

df = pd.read_csv(SRC / "imdb_50k.csv.gz")
sample = pd.concat([df[df.sentiment == s].sample(1500, random_state=0) for s in ("positive", "negative")])
sample = sample.sample(frac=1, random_state=1)
sample.to_csv(OUT / "imdb_3000.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})

counts = Counter(w for t in sample.review for w in clean_seed000(t).lower().split())
words = {w for w, _ in counts.most_common(10_000)}
with gzip.open(SRC / "glove.6B.50d.imdb.txt.gz", "rt", encoding="utf-8") as fh, \
        gzip.GzipFile(OUT / "glove.6B.50d.sample.txt.gz", "wb", mtime=0) as out:
    for line in fh:
        if line.split(" ", 1)[0] in words:
            out.write(line.encode())

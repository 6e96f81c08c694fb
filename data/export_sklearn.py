"""Export scikit-learn's bundled toy data sets to data/*.csv.gz (run once; output is committed).

Usage: pip download scikit-learn --no-deps -d /tmp/skl && unzip /tmp/skl/*.whl 'sklearn/datasets/data/*'
       python data/export_sklearn.py /tmp/skl/sklearn/datasets/data
Every file gets a header row, features first and the label/target last; gzip mtime is 0 so the
bytes (and the sha256 in SOURCES.md) are reproducible.
"""
import csv, gzip, hashlib, io, sys, os

src = sys.argv[1]
out = os.path.dirname(os.path.abspath(__file__))

def rows_of(name):
    op = gzip.open if name.endswith(".gz") else open
    with op(os.path.join(src, name), "rt") as f:
        return [r for r in csv.reader(f) if r]

def rows_ws(name):
    with gzip.open(os.path.join(src, name), "rt") as f:
        return [l.split() for l in f if l.strip()]

def write(name, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    data = gzip.compress(buf.getvalue().encode(), mtime=0)
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    print(f"{name}\t{len(rows)}x{len(header)}\t{hashlib.sha256(data).hexdigest()}")

d = rows_of("digits.csv.gz")
write("digits.csv.gz", [f"pixel{i}" for i in range(64)] + ["label"], d)
for name, out_name, feat in [
    ("iris.csv", "iris.csv.gz", ["sepal_length", "sepal_width", "petal_length", "petal_width"]),
    ("wine_data.csv", "wine.csv.gz", [f"f{i}" for i in range(13)]),
    ("breast_cancer.csv", "breast_cancer.csv.gz", [f"f{i}" for i in range(30)]),
]:
    r = rows_of(name)[1:]
    write(out_name, feat + ["label"], r)
x = rows_ws("diabetes_data_raw.csv.gz")
y = rows_ws("diabetes_target.csv.gz")
write("diabetes.csv.gz", ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "target"],
      [a + b for a, b in zip(x, y)])

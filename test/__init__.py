# A package only so that `python3 -m unittest test/e2e/<name>_test.py` works from the repo root
# (without it, the standard library's own `test` package is found first).

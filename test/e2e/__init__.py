# See test/__init__.py.

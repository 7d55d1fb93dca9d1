"""Learners' model files (.keras, .h5): read only in a confined worker, never by the judge.

The worker (`worker.py`, op "model") loads a file with Keras' safe_mode, under a memory limit, with
Keras' temporary folder inside its own folder, and answers with plain data (`describe_file`): the
layers, the compile configuration and predictions as arrays (`encode_array`). The judge rebuilds
them with `decode_array` and never holds a Keras object of a learner's file.

Keras releases before `KERAS_FLOOR` run code from a model file despite safe_mode: the grader
refuses to start with one (`keras_too_old`).
"""

from __future__ import annotations

import importlib.metadata
import re
import sys

# Keras' safe_mode advisories, by the first release that fixes each:
#   CVE-2025-1550 (GHSA-48g7-3x6r-xfhp), config.json imports any function: 3.9.0
#   CVE-2025-8747 / CVE-2025-9906 (GHSA-c9rc-mg46-23w3, GHSA-36fq-jgmw-4r9c), a config that
#     calls enable_unsafe_deserialization() then runs a Lambda: 3.11.0
#   CVE-2025-9905, an .h5 file's Lambda layer runs whatever safe_mode says: 3.11.3
#   CVE-2025-12060, path traversal in keras.utils.get_file's archive extraction: 3.12.0
#   CVE-2026-1462 (GHSA-4f3f-g24h-fr8m), TFSMLayer loads a SavedModel despite safe_mode: 3.12.1
#     on the 3.12 line, 3.13.2 on the 3.13 line, 3.14.0
#   GHSA-hqp4-2352-xf5r, path traversal during archive extraction: 3.14.0
# Keras 3.13 and later need Python 3.11: on Python 3.10 the 3.12 line (3.12.1 and later) is the
# newest there is, with every safe_mode fix but the archive-extraction one (get_file, which the
# grader never calls on a learner's file).
KERAS_FLOOR = (3, 14, 0) if sys.version_info >= (3, 11) else (3, 12, 1)


def keras_version() -> str | None:
    """The installed Keras' version, read without importing it (None: no Keras)."""
    try:
        return importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return None


def keras_too_old() -> str | None:
    """Why the installed Keras must not grade (one line), or None."""
    version = keras_version()
    if version is None:
        return None
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:3])
    if numbers >= KERAS_FLOOR:
        return None
    floor = ".".join(map(str, KERAS_FLOOR))
    return (
        f"Keras {version} can run code hidden in a model file even with safe_mode "
        f"(CVE-2025-9905 and others), and the grader loads learners' model files: it needs "
        f'Keras {floor} or later. Upgrade it: pip install --upgrade "keras>={floor}"'
    )

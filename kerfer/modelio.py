"""Loading ``.keras`` files safely, with clear errors for truncated or foreign files."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path


def load_keras_model(path: str | os.PathLike, *, unsafe: bool = False, compile: bool = False):
    """Loads a ``.keras`` model in Keras ``safe_mode`` (no arbitrary code from Lambda layers).

    ``unsafe=True`` lifts safe mode: only for files you trust.
    """
    import keras

    from kerfer.runtime.classifier import ModelError

    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a valid .keras file (truncated or not a zip archive)")
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=not unsafe)
    except ValueError as e:
        msg = str(e)
        if "safe_mode" in msg or "Lambda" in msg:
            raise ModelError(
                f"{path}: the model contains code (a Lambda layer) that kerfer will not run from an untrusted "
                f"file; pass --unsafe (unsafe=True) only if you trust its source"
            ) from e
        raise ModelError(f"{path}: cannot load the model ({msg.splitlines()[0] if msg else type(e).__name__})") from e
    except (OSError, KeyError, zipfile.BadZipFile, TypeError) as e:
        raise ModelError(f"{path}: cannot load the model ({e})") from e

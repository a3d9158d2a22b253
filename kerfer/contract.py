"""The labels and preprocessing contract written beside every model (``labels.json``).

Free of TensorFlow: the edge runtime reads it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from kerfer.labels import FER2013_CLASSES, IMAGE_SIZE


@dataclasses.dataclass(frozen=True)
class ModelContract:
    """What a model expects and returns: class names, input size, channels, value range."""

    class_names: tuple[str, ...] = FER2013_CLASSES
    input_size: int = IMAGE_SIZE
    channels: int = 1
    value_range: tuple[float, float] = (0.0, 255.0)
    output: str = "probabilities"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["class_names"] = list(self.class_names)
        d["value_range"] = list(self.value_range)
        return d

    def save(self, path: str | os.PathLike) -> None:
        from kerfer.io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelContract:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            return cls(
                class_names=tuple(d["class_names"]),
                input_size=int(d.get("input_size", IMAGE_SIZE)),
                channels=int(d.get("channels", 1)),
                value_range=tuple(d.get("value_range", (0.0, 255.0))),
                output=str(d.get("output", "probabilities")),
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a valid kerfer labels file ({e})") from e

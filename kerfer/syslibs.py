"""System libraries that pip cannot install: which one a failed native import lacks, and its apt package.

opencv-python's Linux wheels link X and GL libraries that a desktop has and a server or Raspberry
Pi OS *Lite* image does not; ``import cv2`` then fails with ``libxcb.so.1: cannot open shared
object file``. Reinstalling the wheel cannot help, so kerfer names the library and the package.
Package names are Debian's (Raspberry Pi OS, Ubuntu and Debian share them).
"""

from __future__ import annotations

import re

OPENCV_APT_PACKAGES: tuple[str, ...] = ("libgl1", "libglib2.0-0")
"""README's line for Raspberry Pi OS Lite: what opencv-python needs beyond a minimal system
(libgl1 brings libxcb1 and the other X client libraries with it)."""

APT_PACKAGE: dict[str, str] = {
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
}
"""Shared object → the Debian package that holds it, for the libraries OpenCV's wheels link."""

NATIVE_MODULES: dict[str, str] = {"cv2": "OpenCV", "ai_edge_litert": "LiteRT", "numpy": "NumPy"}
"""Import name → the name users know, for the compiled packages kerfer's runtime loads."""

_MISSING = re.compile(r"([\w.+-]+\.so(?:\.[\w]+)*): cannot open shared object file")


def missing_library(error: BaseException) -> str | None:
    """The shared object a failed import could not load (``libxcb.so.1``), or None for other errors."""
    match = _MISSING.search(str(error))
    return match.group(1) if match else None


def install_line(library: str) -> str:
    """The apt command that provides ``library`` and the rest of what OpenCV needs on a minimal system."""
    packages = list(OPENCV_APT_PACKAGES)
    package = APT_PACKAGE.get(library)
    if package and package not in packages and package != "libxcb1":
        packages.append(package)
    line = f"sudo apt install {' '.join(packages)}"
    if package is None:
        line += f" (and the package holding {library}: apt-file search {library})"
    return line


def missing_library_message(error: BaseException, what: str = "OpenCV") -> str | None:
    """One line for an import that failed on a missing system library, else None."""
    library = missing_library(error)
    if library is None:
        return None
    return (
        f"{what} cannot load the system library {library} (desktop-less systems such as Raspberry Pi OS Lite "
        f"lack it; pip cannot install it): {install_line(library)}"
    )
